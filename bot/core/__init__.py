"""The platform-neutral core: one message in (Incoming), one Reply out, inside one transaction; the router that picks \
a handler. Channels call it; handlers are called by it."""
