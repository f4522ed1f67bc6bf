"""Browser chat: context length, retention, limits (the chat issue owns this module)."""

from config.env import env
from config.settings.firebase import FIREBASE_AUTH_DOMAIN, FIREBASE_PROJECT_ID

# The model or route a new conversation starts with.
CHAT_DEFAULT_MODEL = env.str("CHAT_DEFAULT_MODEL", default="chat-default")
# How many earlier messages of a conversation go to the model with each new question.
CHAT_CONTEXT_MESSAGES = env.int("CHAT_CONTEXT_MESSAGES", default=20)
# The most a single chat answer may produce.
CHAT_MAX_TOKENS = env.int("CHAT_MAX_TOKENS", default=1024)
# The longest message a person may send, in characters.
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=32_000)
# Conversations untouched for longer than this are deleted by a daily Celery beat task.
# 0 keeps them forever.
CHAT_RETENTION_DAYS = env.int("CHAT_RETENTION_DAYS", default=0)
# How many conversations the sidebar lists (and title search looks through: titles are
# encrypted, so search happens after decryption).
CHAT_SIDEBAR_CONVERSATIONS = env.int("CHAT_SIDEBAR_CONVERSATIONS", default=200)
# The longest feedback comment, in characters.
CHAT_MAX_FEEDBACK_CHARS = env.int("CHAT_MAX_FEEDBACK_CHARS", default=2000)

if CHAT_CONTEXT_MESSAGES < 0 or CHAT_RETENTION_DAYS < 0:
    raise ValueError("CHAT_CONTEXT_MESSAGES and CHAT_RETENTION_DAYS must not be negative")

# Content-Security-Policy of every browser page (core.middleware.ContentSecurityPolicy).
# Strict: scripts and styles only from this site, no inline script, no framing. Chat
# messages are sanitised too; the policy is the second wall. Firebase sign-in, when on,
# talks to Google's identity endpoints and opens its auth domain in a frame.
_connect = ["'self'"]
_frames = ["'none'"]
if FIREBASE_PROJECT_ID:
    _connect += ["https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"]
    _frames = [f"https://{FIREBASE_AUTH_DOMAIN}"] if FIREBASE_AUTH_DOMAIN else _frames
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(_connect)}",  # 'self' covers ws(s):// to this host (CSP 3)
        f"frame-src {' '.join(_frames)}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The vendored API documentation UIs (Swagger UI, Redoc) inline their own bootstrap
# script and styles; they show no user content, so they get this looser policy.
CONTENT_SECURITY_POLICY_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY_DOCS_PATHS = ("/api/docs/", "/api/redoc/")
