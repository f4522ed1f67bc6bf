"""Local stand-ins for Google's side of Firebase sign-in, all on 127.0.0.1.

- ``SigningKey``: an RSA key pair and a self-signed x509 certificate, and ID tokens signed
  with it, like the ones securetoken.google.com issues.
- ``FakeGoogle``: one HTTP server that serves ``{kid: certificate PEM}`` (Google's x509
  certificate endpoint) and answers the Identity Toolkit ``accounts:lookup`` call that
  firebase-admin makes to check revocation and disabled accounts.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt
from google.auth import jwt as google_jwt

# Pass as ``kid`` to sign a token whose header has no key id at all.
NO_KID = object()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str
    cert_pem: str

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.fake.test")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(private_key, hashes.SHA256())
        )
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        return cls(kid=kid, private_pem=private_pem, cert_pem=cert_pem)

    def sign(self, claims: dict[str, Any], *, kid: Any = None) -> str:
        """An RS256 JWT over ``claims``; ``kid`` overrides this key's id, ``NO_KID`` drops it."""
        key_id = None if kid is NO_KID else (kid or self.kid)
        signer = crypt.RSASigner.from_string(self.private_pem, key_id=key_id)
        token: bytes = google_jwt.encode(signer, claims)
        return token.decode()


def id_token_claims(
    *,
    project_id: str,
    uid: str,
    email: str | None,
    email_verified: bool = True,
    name: str = "",
    issued_at: int | None = None,
    lifetime: int = 3600,
) -> dict[str, Any]:
    """The claims of a Firebase ID token as securetoken.google.com issues them."""
    iat = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "auth_time": iat,
        "user_id": uid,
        "sub": uid,
        "iat": iat,
        "exp": iat + lifetime,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
    }
    if name:
        claims["name"] = name
    if email is not None:
        claims["email"] = email
        claims["email_verified"] = email_verified
        claims["firebase"]["identities"] = {"email": [email]}
    return claims


@dataclass
class FakeGoogle:
    """Certificates at ``/certs``; Identity Toolkit v1 under ``/identitytoolkit/v1``."""

    certs: dict[str, str] = field(default_factory=dict)
    certs_status: int = 200
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: list[dict[str, Any]] = field(default_factory=list)
    cert_fetches: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def certs_url(self) -> str:
        return f"{self.base_url}/certs"

    @property
    def toolkit_url(self) -> str:
        return f"{self.base_url}/identitytoolkit/v1"

    def reset(self) -> None:
        self.certs.clear()
        self.certs_status = 200
        self.users.clear()
        self.lookups.clear()
        self.cert_fetches = 0

    def add_user(
        self,
        uid: str,
        *,
        email: str | None,
        email_verified: bool = True,
        disabled: bool = False,
        valid_since: int | None = None,
    ) -> None:
        """A user record in the shape ``accounts:lookup`` returns (times as strings)."""
        now = int(time.time())
        record: dict[str, Any] = {
            "localId": uid,
            "emailVerified": email_verified,
            "disabled": disabled,
            "validSince": str(now - 3600 if valid_since is None else valid_since),
            "createdAt": str((now - 3600) * 1000),
            "lastLoginAt": str(now * 1000),
            "providerUserInfo": [],
        }
        if email is not None:
            record["email"] = email
        self.users[uid] = record

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def _send_json(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path != "/certs":
                    self._send_json(404, {"error": "not found"})
                    return
                fake.cert_fetches += 1
                if fake.certs_status != 200:
                    self._send_json(fake.certs_status, {"error": "unavailable"})
                    return
                self._send_json(200, dict(fake.certs))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                prefix = "/identitytoolkit/v1/projects/"
                if not (self.path.startswith(prefix) and self.path.endswith("/accounts:lookup")):
                    self._send_json(404, {"error": {"code": 404, "message": "NOT_FOUND"}})
                    return
                fake.lookups.append(
                    {
                        "path": self.path,
                        "body": body,
                        "authorization": self.headers.get("Authorization"),
                    }
                )
                found = [fake.users[uid] for uid in body.get("localId", []) if uid in fake.users]
                response: dict[str, Any] = {"kind": "identitytoolkit#GetAccountInfoResponse"}
                if found:
                    response["users"] = found
                self._send_json(200, response)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
