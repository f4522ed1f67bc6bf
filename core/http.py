from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's IP, trusting exactly TRUSTED_PROXY_COUNT proxies in X-Forwarded-For.

    Trusting more hops than there are proxies would let a client pick its own IP and
    dodge per-IP lockouts, so the default is to trust none.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return str(forwarded[-proxies])
    remote = request.META.get("REMOTE_ADDR")
    return str(remote) if remote else None
