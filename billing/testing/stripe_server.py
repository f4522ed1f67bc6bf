"""A local Stripe API server for tests and development: the calls we make, answered with
objects shaped as Stripe documents them (API version 2025+ "basil"/"dahlia" shapes), and
webhook events signed with Stripe's real scheme (``Stripe-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``).

Point the SDK at it with ``stripe.api_base = server.url`` (or STRIPE_API_BASE for server
processes). Requests are form-encoded with Stripe's bracket syntax and authenticated by the
secret key; ``Idempotency-Key`` replays the first answer, as Stripe does.

What a customer does in the browser (paying on a Checkout page, a renewal failing, a
refund in the dashboard) is driven from Python: ``complete_checkout``, ``renew``,
``fail_renewal``, ``cancel``, ``refund``, ``decline_cards``. Each returns the events Stripe
would send, in Stripe's order; ``deliver`` posts them to a webhook URL. Loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

API_VERSION = "2026-08-26.dahlia"
HOST = "127.0.0.1"
Obj = dict[str, Any]


def sign(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(body: str) -> Obj:
    """``a[b][0][c]=1`` -> {"a": {"b": [{"c": "1"}]}} (Stripe's encoding)."""
    result: Obj = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        parts = raw_key.replace("]", "").split("[")
        node: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None or last:
                    node[index] = nxt
                node = node[index]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return result


_RETRIEVABLE = {
    "customers": "customer",
    "checkout/sessions": "checkout.session",
    "payment_intents": "payment_intent",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
}


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": kind, "message": message, **extra}}


class LocalStripe:
    """The object store and the behaviour of the account."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.objects: dict[str, Obj] = {}
        self.idempotent: dict[str, tuple[int, Obj]] = {}
        self.declining: set[str] = set()
        self.prices: dict[str, int] = {}  # price id -> unit amount (cents)
        self.lock = threading.RLock()
        self.payment_intents_created = 0
        self.base_url = ""
        self._clock = 0  # event times strictly increase, as Stripe's do between steps

    # --- helpers -------------------------------------------------------------------
    def _new(self, prefix: str, kind: str, **fields: Any) -> Obj:
        obj = {
            "id": f"{prefix}_{secrets.token_hex(8)}",
            "object": kind,
            "livemode": False,
            "created": int(time.time()),
            "metadata": {},
            **fields,
        }
        self.objects[obj["id"]] = obj
        return obj

    def _get(self, object_id: str, kind: str) -> Obj:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(
                404,
                "invalid_request_error",
                f"No such {kind}: '{object_id}'",
                code="resource_missing",
                param="id",
            )
        return obj

    def tick(self) -> int:
        """Now, as a Unix time later than anything this server stamped before."""
        self._clock = max(int(time.time()), self._clock + 1)
        return self._clock

    def event(self, kind: str, obj: Obj) -> Obj:
        self.tick()
        return {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": API_VERSION,
            "created": self._clock,
            "data": {"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

    def set_price(self, price_id: str, *, unit_amount: int) -> None:
        self.prices[price_id] = unit_amount

    # --- the API --------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Obj) -> Obj:
        ids = "/".join(
            "*" if re.fullmatch(r"(cus|cs_test|pi|sub|in|ch|pm)_[0-9a-f]+", p) else p
            for p in path.strip("/").split("/")[1:]  # drop "v1"
        )
        last = path.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            match (method, ids):
                case ("GET", "account"):
                    return self._account()
                case ("POST", "customers"):
                    return self._new(
                        "cus",
                        "customer",
                        name=params.get("name"),
                        email=params.get("email"),
                        metadata=params.get("metadata", {}),
                        invoice_settings={"default_payment_method": None},
                    )
                case ("POST", "checkout/sessions"):
                    return self._checkout_session(params)
                case ("POST", "billing_portal/sessions"):
                    customer = self._get(params["customer"], "customer")
                    return self._new(
                        "bps",
                        "billing_portal.session",
                        customer=customer["id"],
                        return_url=params.get("return_url"),
                        url=f"{self.base_url}/portal/{customer['id']}",
                    )
                case ("GET", "payment_methods"):
                    return self._payment_methods(params)
                case ("POST", "payment_intents"):
                    return self._payment_intent(params)
                case ("GET", str(kind)) if kind.endswith("/*") and kind[:-2] in _RETRIEVABLE:
                    return self._get(last, _RETRIEVABLE[kind[:-2]])
        raise StripeError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
        )

    def _account(self) -> Obj:
        return {
            "id": "acct_local",
            "object": "account",
            "type": "standard",
            "country": "US",
            "default_currency": "usd",
            "email": "billing@localhost",
            "created": 0,
            "charges_enabled": True,
            "payouts_enabled": True,
            "details_submitted": True,
            "business_profile": {"name": "Local Stripe"},
            "metadata": {},
            "settings": {
                "dashboard": {"display_name": "Local Stripe"},
                "branding": {"icon": None, "logo": None},
            },
        }

    def _checkout_session(self, params: Obj) -> Obj:
        if params.get("customer"):
            self._get(params["customer"], "customer")
        items = params.get("line_items") or []
        for item in items:
            if item.get("price") not in self.prices:
                raise StripeError(
                    400,
                    "invalid_request_error",
                    f"No such price: '{item.get('price')}'",
                    param="line_items",
                )
        amount = sum(self.prices[i["price"]] * int(i.get("quantity", 1)) for i in items)
        session = self._new(
            "cs_test",
            "checkout.session",
            mode=params.get("mode"),
            status="open",
            payment_status="unpaid",
            customer=params.get("customer"),
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            amount_total=amount,
            currency="usd",
            subscription=None,
            payment_intent=None,
            invoice=None,
        )
        session["url"] = f"{self.base_url}/checkout/{session['id']}"
        session["_line_items"] = items
        session["_subscription_data"] = params.get("subscription_data", {})
        session["_payment_intent_data"] = params.get("payment_intent_data", {})
        return session

    def _payment_methods(self, params: Obj) -> Obj:
        methods = [
            o
            for o in self.objects.values()
            if o["object"] == "payment_method" and o.get("customer") == params.get("customer")
        ]
        return {"object": "list", "url": "/v1/payment_methods", "has_more": False, "data": methods}

    def _payment_intent(self, params: Obj) -> Obj:
        self.payment_intents_created += 1
        customer = self._get(params["customer"], "customer")
        intent = self._new(
            "pi",
            "payment_intent",
            amount=int(params["amount"]),
            currency=params.get("currency", "usd"),
            customer=customer["id"],
            payment_method=params.get("payment_method"),
            metadata=params.get("metadata", {}),
            status="requires_confirmation",
            latest_charge=None,
        )
        if params.get("confirm") in {"true", True}:
            if customer["id"] in self.declining:
                intent["status"] = "requires_payment_method"
                raise StripeError(
                    402,
                    "card_error",
                    "Your card was declined.",
                    code="card_declined",
                    decline_code="generic_decline",
                    payment_intent=intent,
                )
            intent["status"] = "succeeded"
            intent["latest_charge"] = self._charge(intent)["id"]
        return intent

    def _charge(self, intent: Obj) -> Obj:
        return self._new(
            "ch",
            "charge",
            amount=intent["amount"],
            amount_refunded=0,
            currency=intent["currency"],
            customer=intent["customer"],
            payment_intent=intent["id"],
            paid=True,
            refunded=False,
            status="succeeded",
        )

    def _card(self, customer: str) -> Obj:
        existing = self._payment_methods({"customer": customer})["data"]
        if existing:
            return dict(existing[0])
        card = self._new(
            "pm",
            "payment_method",
            type="card",
            customer=customer,
            card={"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
        )
        self.objects[customer]["invoice_settings"]["default_payment_method"] = card["id"]
        return card

    # --- what the customer does (test controls) -------------------------------------
    def complete_checkout(self, session_id: str) -> list[Obj]:
        """The customer pays on the Checkout page. Returns Stripe's events, in order."""
        with self.lock:
            session = self._get(session_id, "checkout.session")
            customer = session["customer"]
            self._card(customer)
            session.update(status="complete", payment_status="paid")
            if session["mode"] == "subscription":
                price = session["_line_items"][0]["price"]
                sub = self._new(
                    "sub",
                    "subscription",
                    customer=customer,
                    status="active",
                    metadata=session["_subscription_data"].get("metadata", {}),
                    items={"object": "list", "data": []},
                    latest_invoice=None,
                    cancel_at_period_end=False,
                )
                now = int(time.time())
                sub["items"]["data"] = [self._sub_item(sub["id"], price, now)]
                invoice, events = self._invoice(sub, "subscription_create", now)
                session.update(subscription=sub["id"], invoice=invoice["id"])
                return [
                    self.event("customer.subscription.created", sub),
                    *events,
                    self.event("checkout.session.completed", self._public(session)),
                ]
            pi_data = session["_payment_intent_data"]
            intent = self._new(
                "pi",
                "payment_intent",
                amount=session["amount_total"],
                currency="usd",
                customer=customer,
                status="succeeded",
                metadata=pi_data.get("metadata", {}),
                latest_charge=None,
            )
            intent["latest_charge"] = self._charge(intent)["id"]
            session["payment_intent"] = intent["id"]
            return [
                self.event("payment_intent.succeeded", intent),
                self.event("checkout.session.completed", self._public(session)),
            ]

    def _public(self, obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def _sub_item(self, sub_id: str, price: str, start: int) -> Obj:
        return {
            "id": f"si_{secrets.token_hex(6)}",
            "object": "subscription_item",
            "subscription": sub_id,
            "quantity": 1,
            "current_period_start": start,
            "current_period_end": start + 30 * 86400,
            "price": {
                "id": price,
                "object": "price",
                "unit_amount": self.prices[price],
                "currency": "usd",
                "recurring": {"interval": "month"},
            },
        }

    def _invoice(
        self, sub: Obj, reason: str, start: int, *, paid: bool = True
    ) -> tuple[Obj, list[Obj]]:
        item = sub["items"]["data"][0]
        period = {"start": item["current_period_start"], "end": item["current_period_end"]}
        invoice = self._new(
            "in",
            "invoice",
            customer=sub["customer"],
            billing_reason=reason,
            status="paid" if paid else "open",
            amount_due=item["price"]["unit_amount"],
            amount_paid=item["price"]["unit_amount"] if paid else 0,
            currency="usd",
            period_start=period["start"],
            period_end=period["end"],
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]},
            },
            lines={
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": f"il_{secrets.token_hex(6)}",
                        "object": "line_item",
                        "amount": item["price"]["unit_amount"],
                        "currency": "usd",
                        "quantity": 1,
                        "period": period,
                        "pricing": {
                            "type": "price_details",
                            "price_details": {
                                "price": item["price"]["id"],
                                "product": "prod_local",
                            },
                        },
                    }
                ],
            },
        )
        sub["latest_invoice"] = invoice["id"]
        if not paid:
            return invoice, [self.event("invoice.payment_failed", invoice)]
        intent = self._new(
            "pi",
            "payment_intent",
            amount=invoice["amount_paid"],
            currency="usd",
            customer=sub["customer"],
            status="succeeded",
            latest_charge=None,
        )
        intent["latest_charge"] = self._charge(intent)["id"]
        invoice["payments"] = {
            "object": "list",
            "data": [
                {
                    "object": "invoice_payment",
                    "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
                }
            ],
        }
        return invoice, [
            self.event("invoice.paid", invoice),
            self.event("invoice.payment_succeeded", invoice),
        ]

    def renew(self, subscription_id: str, *, paid: bool = True) -> list[Obj]:
        """The next period starts (the clock is moved on by a period)."""
        with self.lock:
            sub = self._get(subscription_id, "subscription")
            item = sub["items"]["data"][0]
            start = item["current_period_end"]
            item.update(current_period_start=start, current_period_end=start + 30 * 86400)
            _, events = self._invoice(sub, "subscription_cycle", start, paid=paid)
            sub["status"] = "active" if paid else "past_due"
            return [*events, self.event("customer.subscription.updated", sub)]

    def fail_renewal(self, subscription_id: str) -> list[Obj]:
        return self.renew(subscription_id, paid=False)

    def cancel(self, subscription_id: str) -> list[Obj]:
        with self.lock:
            sub = self._get(subscription_id, "subscription")
            sub.update(status="canceled", canceled_at=int(time.time()))
            return [self.event("customer.subscription.deleted", sub)]

    def refund(self, charge_id: str, *, amount: int | None = None) -> list[Obj]:
        with self.lock:
            charge = self._get(charge_id, "charge")
            charge["amount_refunded"] = min(
                charge["amount"], charge["amount_refunded"] + (amount or charge["amount"])
            )
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            return [self.event("charge.refunded", charge)]

    def decline_cards(self, customer_id: str, *, decline: bool = True) -> None:
        (self.declining.add if decline else self.declining.discard)(customer_id)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self, method: str) -> None:
        stripe = self.server.stripe
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {stripe.secret_key}":
            return self._send(
                401,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided.",
                    }
                },
            )
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        params = parse_form(body if method == "POST" else url.query)
        key = self.headers.get("Idempotency-Key")
        if method == "POST" and key and key in stripe.idempotent:
            status, payload = stripe.idempotent[key]
            return self._send(status, payload)
        try:
            status, payload = 200, stripe._public(stripe.handle(method, url.path, params))
        except StripeError as exc:
            status, payload = exc.status, exc.body
        if method == "POST" and key:
            stripe.idempotent[key] = (status, payload)
        self._send(status, payload)

    def _send(self, status: int, payload: Obj) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stripe: LocalStripe) -> None:
        super().__init__((HOST, 0), _Handler)
        self.stripe = stripe


class StripeServer:
    """``with StripeServer("sk_test_x") as server: stripe.api_base = server.url``"""

    def __init__(self, secret_key: str = "sk_test_localstripeserver000000") -> None:  # noqa: S107 - a test key
        self.stripe = LocalStripe(secret_key)
        self._server = _Server(self.stripe)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self.stripe.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StripeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def deliver(
        self, url: str, event: Obj, *, secret: str, timestamp: int | None = None
    ) -> httpx.Response:
        """POST one event to a webhook endpoint, signed as Stripe signs it."""
        payload = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(payload, secret, timestamp=timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return httpx.post(url, content=payload, headers=headers, timeout=30)
