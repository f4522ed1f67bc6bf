"""The inference API (/v1): OpenAI Chat Completions, Anthropic Messages, models, generate.

Plain async Django views rather than DRF: this is the hot path, and each endpoint speaks
its own wire format, errors included. Each view authenticates, parses with the wire
module, calls one gateway service and renders.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accounts.access import KeyContext
from accounts.apikeys import authenticate_secret_async
from accounts.authentication import presented_api_key
from accounts.models import Scope, Team
from billing.selectors import month_param, team_cost_report
from core.asyncdb import run_detached
from core.errors import (
    ApplicationError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    ValidationFailed,
)
from core.http import client_ip
from core.requestid import get_request_id
from gateway import embeddings, services
from gateway.catalogue import current_catalogue
from gateway.tokens import estimate_prompt_tokens
from gateway.types import ChatRequest, Message, StreamEvent
from gateway.wire import anthropic as anthropic_wire
from gateway.wire import embeddings as embeddings_wire
from gateway.wire import openai as openai_wire

logger = logging.getLogger(__name__)

View = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


class ErrorRenderer(Protocol):
    def __call__(self, exc: ApplicationError, *, request_id: str) -> dict[str, object]: ...


class MethodNotAllowed(ApplicationError):
    status_code = 405
    code = "method_not_allowed"


class InternalError(ApplicationError):
    status_code = 500
    error_type = "api_error"
    code = "internal_error"


def _error_response(exc: ApplicationError, render: ErrorRenderer) -> JsonResponse:
    response = JsonResponse(render(exc, request_id=get_request_id()), status=exc.status_code)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def endpoint(*, methods: set[str], render_error: ErrorRenderer) -> Callable[[View], View]:
    """Method check, CSRF exemption (API keys, not cookies) and errors in the format's shape."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        async def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(
                        f"{request.method} is not allowed here; use {', '.join(sorted(methods))}."
                    )
                return await view(request, *args, **kwargs)
            except ApplicationError as exc:
                return _error_response(exc, render_error)
            except Exception:
                logger.exception("unhandled error in %s", view.__name__)
                return _error_response(
                    InternalError("The gateway failed unexpectedly."), render_error
                )

        return csrf_exempt(wrapped)

    return decorate


async def _authenticate(request: HttpRequest) -> KeyContext:
    secret = presented_api_key(request)
    if secret is None:
        raise Unauthenticated(
            "No API key: send 'Authorization: Bearer sk-...' or 'x-api-key: sk-...'.",
            code="missing_api_key",
        )
    key = await authenticate_secret_async(secret, ip=client_ip(request))
    if Scope.INFERENCE.value not in key.scopes:
        raise Forbidden("This API key lacks the 'inference' scope.", code="insufficient_scope")
    return key


def _json_body(request: HttpRequest) -> object:
    declared = request.headers.get("Content-Length")
    limit = settings.GATEWAY_MAX_BODY_BYTES
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.") from exc
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is {len(raw)} bytes; the limit is {limit}.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            f"The request body is not valid JSON: {exc}.", code="invalid_json"
        ) from exc


def _cache_allowed(request: HttpRequest) -> bool:
    """``Cache-Control: no-cache`` (or no-store) asks for a fresh answer."""
    directives = {d.strip().lower() for d in request.headers.get("Cache-Control", "").split(",")}
    return not directives & {"no-cache", "no-store"}


def _sse_response(frames: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold events back
    for name, value in headers.items():
        response[name] = value
    return response


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes: ...

    def error(self, exc: ApplicationError) -> bytes: ...


async def _frames(
    stream: services.ChatStream, encoder: StreamEncoder, *, closing: Callable[[], bytes]
) -> AsyncIterator[bytes]:
    """Encode a stream's events; a failure after the first byte becomes an error event."""
    try:
        async for event in stream.events:
            yield encoder.encode(event)
    except ApplicationError as exc:
        yield encoder.error(exc)
        return
    yield closing()


def _with_headers(response: HttpResponse, headers: dict[str, str]) -> HttpResponse:
    for name, value in headers.items():
        response[name] = value
    return response


def _extra(result: services.ChatResult) -> dict[str, object]:
    """Fields beyond the wire format: how it was served, and a RAG answer's sources."""
    extra: dict[str, object] = {"x_gateway": result.served.summary()}
    if result.served.pipeline == "rag":
        extra["citations"] = [c.as_dict() for c in result.citations]
    return extra


def _pipeline(request: HttpRequest, body_pipeline: str | None, collections: list[str]) -> str:
    """The body's choice, else the X-Pipeline header; naming collections means rag."""
    chosen = body_pipeline or request.headers.get("X-Pipeline")
    return chosen or ("rag" if collections else "direct")


# --- OpenAI: POST /v1/chat/completions ------------------------------------------------------


@endpoint(methods={"POST"}, render_error=openai_wire.render_error)
async def chat_completions(request: HttpRequest) -> HttpResponseBase:
    key = await _authenticate(request)
    parsed = openai_wire.parse_chat_request(
        _json_body(request),
        max_tokens_ceiling=settings.GATEWAY_MAX_TOKENS_CEILING,
        default_max_tokens=settings.GATEWAY_DEFAULT_MAX_TOKENS,
        max_messages=settings.GATEWAY_MAX_MESSAGES,
    )
    call = services.GatewayCall(
        key=key,
        model=parsed.model,
        request=parsed.request,
        request_id=get_request_id(),
        pipeline=_pipeline(request, parsed.pipeline, parsed.collections),
        collections=parsed.collections,
        use_cache=_cache_allowed(request),
        answer_first=True,  # settled after the response (decision 0023)
    )
    response_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not parsed.stream:
        result = await services.chat_complete(call)
        body = openai_wire.render_completion(
            result.completion,
            response_id=response_id,
            model=result.served.model.name,
            created=created,
            extra=_extra(result),
        )
        return _with_headers(JsonResponse(body), result.served.headers())
    stream = await services.chat_stream(call)
    encoder = openai_wire.ChatStreamEncoder(
        response_id=response_id,
        model=stream.served.model.name,
        created=created,
        include_usage=parsed.include_usage,
    )
    return _sse_response(_frames(stream, encoder, closing=encoder.done), stream.served.headers())


# --- Anthropic: POST /v1/messages -----------------------------------------------------------


@endpoint(methods={"POST"}, render_error=anthropic_wire.render_error)
async def messages(request: HttpRequest) -> HttpResponseBase:
    key = await _authenticate(request)
    parsed = anthropic_wire.parse_messages_request(
        _json_body(request),
        max_tokens_ceiling=settings.GATEWAY_MAX_TOKENS_CEILING,
        max_messages=settings.GATEWAY_MAX_MESSAGES,
    )
    call = services.GatewayCall(
        key=key,
        model=parsed.model,
        request=parsed.request,
        request_id=get_request_id(),
        pipeline=_pipeline(request, parsed.pipeline, parsed.collections),
        collections=parsed.collections,
        use_cache=_cache_allowed(request),
        answer_first=True,  # settled after the response (decision 0023)
    )
    message_id = f"msg_{uuid.uuid4().hex}"
    if not parsed.stream:
        result = await services.chat_complete(call)
        body = anthropic_wire.render_message(
            result.completion,
            message_id=message_id,
            model=result.served.model.name,
            extra=_extra(result),
        )
        return _with_headers(JsonResponse(body), result.served.headers())
    stream = await services.chat_stream(call)
    encoder = anthropic_wire.MessageStreamEncoder(
        message_id=message_id,
        model=stream.served.model.name,
        input_tokens_estimate=estimate_prompt_tokens(parsed.request),
    )
    return _sse_response(_frames(stream, encoder, closing=encoder.finish), stream.served.headers())


# --- Models: GET /v1/models, GET /v1/models/{id} --------------------------------------------


@endpoint(methods={"GET"}, render_error=openai_wire.render_error)
async def models_list(request: HttpRequest) -> HttpResponseBase:
    key = await _authenticate(request)
    catalogue = await current_catalogue()
    items = [
        openai_wire.render_model(model_id, created=created, owned_by=owner)
        for model_id, created, owner in catalogue.visible_ids(key.team_id)
    ]
    return JsonResponse(openai_wire.render_model_list(items))


@endpoint(methods={"GET"}, render_error=openai_wire.render_error)
async def model_detail(request: HttpRequest, model_id: str) -> HttpResponseBase:
    key = await _authenticate(request)
    catalogue = await current_catalogue()
    for visible_id, created, owner in catalogue.visible_ids(key.team_id):
        if visible_id == model_id:
            return JsonResponse(
                openai_wire.render_model(visible_id, created=created, owned_by=owner)
            )
    raise NotFound(
        f"The model '{model_id}' does not exist or your team may not use it.",
        code="model_not_found",
    )


# --- Platform: POST /v1/generate ------------------------------------------------------------


class GenerateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    pipeline: str = "auto"
    model: str = Field(default_factory=lambda: settings.GATEWAY_DEFAULT_MODEL)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    system: str | None = None
    collections: list[str] = Field(default_factory=list)


def _generate_input(body: object) -> GenerateInput:
    try:
        data = GenerateInput.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationFailed(
            f"{param}: {first['msg']}" if param else first["msg"], param=param
        ) from exc
    if data.max_tokens is not None and data.max_tokens > settings.GATEWAY_MAX_TOKENS_CEILING:
        raise ValidationFailed(
            f"max_tokens is over the ceiling of {settings.GATEWAY_MAX_TOKENS_CEILING}.",
            param="max_tokens",
        )
    return data


@endpoint(methods={"POST"}, render_error=openai_wire.render_error)
async def generate(request: HttpRequest) -> HttpResponseBase:
    """The simple platform API: a prompt in, an answer and its accounting out."""
    key = await _authenticate(request)
    data = _generate_input(_json_body(request))
    messages = [Message(role="system", content=data.system)] if data.system else []
    messages.append(Message(role="user", content=data.prompt))
    chat = ChatRequest(
        messages=messages,
        max_tokens=data.max_tokens or settings.GATEWAY_DEFAULT_MAX_TOKENS,
        temperature=data.temperature,
    )
    call = services.GatewayCall(
        key=key,
        model=data.model,
        request=chat,
        request_id=get_request_id(),
        pipeline=data.pipeline,
        collections=data.collections,
        use_cache=_cache_allowed(request),
        answer_first=True,  # settled after the response (decision 0023)
    )
    result = await services.chat_complete(call)
    usage = result.completion.usage
    body: dict[str, object] = {
        "request_id": call.request_id,
        "content": result.completion.text,
        "model_used": result.served.model.name,
        "provider": result.served.model.provider.name,
        "route": result.served.route.name if result.served.route else None,
        "pipeline_used": result.served.pipeline,
        "tokens_in": usage.input_tokens,
        "tokens_out": usage.output_tokens,
        "latency_ms": round(result.latency_ms, 1),
        "cached": result.served.cached,
        "cost_usd": f"{result.cost:.8f}",
        "fallbacks": result.served.fallbacks,
        "finish_reason": result.completion.finish_reason,
    }
    if result.served.pipeline == "rag":
        body["citations"] = [c.as_dict() for c in result.citations]
    return _with_headers(JsonResponse(body), result.served.headers())


# --- OpenAI: POST /v1/embeddings ------------------------------------------------------------


@endpoint(methods={"POST"}, render_error=openai_wire.render_error)
async def embeddings_create(request: HttpRequest) -> HttpResponseBase:
    key = await _authenticate(request)
    parsed = embeddings_wire.parse_embeddings_request(
        _json_body(request),
        max_inputs=settings.GATEWAY_EMBEDDINGS_MAX_INPUTS,
        max_input_chars=settings.GATEWAY_EMBEDDINGS_MAX_INPUT_CHARS,
    )
    result = await embeddings.embed(
        key=key,
        model=parsed.model,
        texts=parsed.inputs,
        dimensions=parsed.dimensions,
        request_id=get_request_id(),
    )
    body = embeddings_wire.render_embeddings(
        result.vectors,
        model=result.model.name,
        prompt_tokens=result.prompt_tokens,
        encoding_format=parsed.encoding_format,
    )
    return _with_headers(JsonResponse(body), result.headers())


@endpoint(methods={"GET"}, render_error=openai_wire.render_error)
async def usage(request: HttpRequest) -> HttpResponseBase:
    """The calling key's team: budget, spend, remaining, utilization, by model and by day."""
    key = await _authenticate(request)
    month = month_param(request.GET.get("month"))
    team = await run_detached(Team.objects.get, pk=key.team_id)
    report = await run_detached(team_cost_report, team=team, month=month)
    return JsonResponse(report.as_dict())


@endpoint(methods={"GET", "POST", "PUT", "PATCH", "DELETE"}, render_error=openai_wire.render_error)
async def not_found(request: HttpRequest, rest: str) -> HttpResponseBase:
    raise NotFound(f"There is no endpoint {request.method} /v1/{rest}.", code="unknown_endpoint")
