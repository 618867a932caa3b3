"""Channel adapters: one package per platform (callback, API client, transport), translating between the
platform and bot.core / bot.delivery.

`CHANNELS` names them in preference order: a person with identities on several enabled channels is
reached on the first. A new platform is a new package here plus its name in this tuple (the value of
its `person_identity.channel`)."""

CHANNELS: tuple[str, ...] = ("wecom", "dingtalk")
