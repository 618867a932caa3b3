"""Channel adapters: thin translations between a platform and bot.core (one package per platform)."""
