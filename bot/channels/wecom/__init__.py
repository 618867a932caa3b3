"""The WeCom (企业微信) channel: callback (receiving) and API client (sending)."""
