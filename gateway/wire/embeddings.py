"""OpenAI's Embeddings wire format (``POST /v1/embeddings``): parse the body, render the list.

The official SDK asks for ``encoding_format="base64"`` unless told otherwise (and decodes
it itself), so both encodings are real: base64 is the little-endian float32 bytes of each
vector, exactly what OpenAI sends.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ValidationFailed

EncodingFormat = Literal["float", "base64"]


class _EmbeddingsBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    model: str = Field(min_length=1)
    input: object
    encoding_format: EncodingFormat = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    model: str
    inputs: list[str]
    encoding_format: EncodingFormat
    dimensions: int | None


def _inputs(raw: object, *, max_inputs: int, max_input_chars: int) -> list[str]:
    if isinstance(raw, str):
        items: list[object] = [raw]
    elif isinstance(raw, list):
        items = list(raw)
    else:
        raise ValidationFailed("input must be a string or an array of strings.", param="input")
    if not items:
        raise ValidationFailed("input must not be an empty array.", param="input")
    if len(items) > max_inputs:
        raise ValidationFailed(
            f"input has {len(items)} items; the limit is {max_inputs} per request.",
            param="input",
        )
    texts: list[str] = []
    for index, item in enumerate(items):
        where = "input" if isinstance(raw, str) else f"input.{index}"
        if isinstance(item, int | list):
            raise ValidationFailed(
                "Token arrays are not supported here: send the text itself.", param=where
            )
        if not isinstance(item, str):
            raise ValidationFailed("Expected a string.", param=where)
        if not item.strip():
            raise ValidationFailed("An input must not be empty.", param=where)
        if len(item) > max_input_chars:
            raise ValidationFailed(
                f"An input has {len(item)} characters; the limit is {max_input_chars}.",
                param=where,
            )
        texts.append(item)
    return texts


def parse_embeddings_request(
    body: object, *, max_inputs: int, max_input_chars: int
) -> EmbeddingsCall:
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    if "input" not in body:
        raise ValidationFailed("input: Field required", param="input")
    try:
        parsed = _EmbeddingsBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationFailed(
            f"{param}: {first['msg']}" if param else first["msg"], param=param
        ) from None
    return EmbeddingsCall(
        model=parsed.model,
        inputs=_inputs(parsed.input, max_inputs=max_inputs, max_input_chars=max_input_chars),
        encoding_format=parsed.encoding_format,
        dimensions=parsed.dimensions,
    )


def _encode(vector: list[float], encoding_format: EncodingFormat) -> list[float] | str:
    if encoding_format == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def render_embeddings(
    vectors: list[list[float]],
    *,
    model: str,
    prompt_tokens: int,
    encoding_format: EncodingFormat,
) -> dict[str, object]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
