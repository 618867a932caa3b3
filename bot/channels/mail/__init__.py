"""E-mail: an outbound-only channel of the outbox (SMTP with TLS and login from MAIL_* settings; no callback)."""
