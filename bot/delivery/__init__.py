"""Delivery: the durable outbox (every outbound message is a row first) and the sender that delivers each row exactly \
once within the platforms' limits."""
