"""The DingTalk (钉钉) channel: callback (receiving), api (the client) and transport (how the outbox sender \
delivers)."""
