"""Browser chat: context length, retention (the chat issue owns this module)."""
