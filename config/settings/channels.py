"""Channels: the Redis channel layer for WebSockets (the chat issue owns this module)."""
