"""Application actions: every creation or state change of a record is one function here (Zulip's do_* style), called \
by handlers, jobs, the CLI and the web board alike."""
