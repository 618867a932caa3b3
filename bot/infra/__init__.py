"""Infrastructure: database sessions and migrations, short-lived shared state (Redis or in-process), the audit trail \
writer, the template renderer."""
