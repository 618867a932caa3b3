"""Channel adapters: one package per platform (callback, API client, transport), translating between the
platform and bot.core / bot.delivery.

`CHANNELS` names them in preference order: a person with identities on several enabled channels is
reached on the first. A new platform is a new package here plus its name in this tuple (the value of
its `person_identity.channel`).

`OUTBOX_CHANNELS` are every channel the outbox sender delivers on: the chat platforms and e-mail
(`mail/`, addressed by mailbox, never a person's channel, so never in `CHANNELS`)."""

CHANNELS: tuple[str, ...] = ("wecom", "dingtalk")
OUTBOX_CHANNELS: tuple[str, ...] = CHANNELS + ("mail",)


def markdown_escaper(channel: "str | None"):
    """The function that makes user-typed text inert in `channel`'s markdown (each channel's
    `api.escape_markdown`); for an unknown or unsettled channel, every channel's at once."""
    from importlib import import_module

    def of(name: str):
        return import_module(f"bot.channels.{name}.api").escape_markdown

    if channel in CHANNELS:
        return of(channel)
    escapes = [of(name) for name in CHANNELS]

    def every(text: object) -> str:
        out = str(text if text is not None else "")
        for escape in escapes:
            out = escape(out)
        return out
    return every
