from config.env import env

# Firebase sign-in is on when a project id is configured. Credentials come from
# GOOGLE_APPLICATION_CREDENTIALS (a service-account file) or the runtime's identity.
FIREBASE_PROJECT_ID = env.str("FIREBASE_PROJECT_ID", default="")
FIREBASE_WEB_API_KEY = env.str("FIREBASE_WEB_API_KEY", default="")
FIREBASE_AUTH_DOMAIN = env.str("FIREBASE_AUTH_DOMAIN", default="")
FIREBASE_CHECK_REVOKED = env.bool("FIREBASE_CHECK_REVOKED", default=True)
FIREBASE_CLOCK_SKEW_SECONDS = env.int("FIREBASE_CLOCK_SKEW_SECONDS", default=5)
# Only tests set these: where to fetch signing certificates and the Identity Toolkit API.
FIREBASE_CERTS_URL = env.str("FIREBASE_CERTS_URL", default="")
FIREBASE_IDENTITY_TOOLKIT_URL = env.str("FIREBASE_IDENTITY_TOOLKIT_URL", default="")
