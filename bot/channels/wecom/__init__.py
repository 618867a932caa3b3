"""The WeCom (企业微信) channel: callback (receiving), api (the client) and transport (how the outbox sender \
delivers)."""
