"""The DingTalk (钉钉) channel: callback (receiving) and API client (sending)."""
