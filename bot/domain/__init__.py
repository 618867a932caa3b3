"""Domain rules, one function per rule: periods and deadlines, working days, the ledger state machine and lights, item \
codes, who sees and follows what, roles, unit names, Chinese dates. No I/O beyond the SQLAlchemy session they are \
given; no platform, no outbox."""
