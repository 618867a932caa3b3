"""Settings and seed data. `config.settings.Settings` is the only place environment variables are read."""
