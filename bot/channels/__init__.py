"""Channel adapters: one package per platform (callback, API client, transport), translating between the
platform and bot.core / bot.delivery.

`CHANNELS` names them in preference order: a person with identities on several enabled channels is
reached on the first. A new platform is a new package here plus its name in this tuple (the value of
its `person_identity.channel`).

`OUTBOX_CHANNELS` are every channel the outbox sender delivers on: the chat platforms and e-mail
(`mail/`, addressed by mailbox, never a person's channel, so never in `CHANNELS`)."""

CHANNELS: tuple[str, ...] = ("wecom", "dingtalk")
OUTBOX_CHANNELS: tuple[str, ...] = CHANNELS + ("mail",)
