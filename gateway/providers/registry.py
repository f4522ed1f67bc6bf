"""Provider instances, kept alive across requests so SDK connection pools are reused.

SDK clients hold connection pools bound to the event loop that first used them, so the
registry is per loop (uvicorn runs one loop per process; tests run many).
"""

from __future__ import annotations

import asyncio
import importlib
import weakref

from gateway.providers.base import Provider, ProviderConfig

_CLASS_PATHS = {
    "openai": "gateway.providers.openai.OpenAIProvider",
    "anthropic": "gateway.providers.anthropic.AnthropicProvider",
    "local": "gateway.providers.local.LocalProvider",
}

_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Provider]] = (
    weakref.WeakKeyDictionary()
)


def provider_class(kind: str) -> type[Provider]:
    module_path, _, name = _CLASS_PATHS[kind].rpartition(".")
    cls: type[Provider] = getattr(importlib.import_module(module_path), name)
    return cls


def provider_for(config: ProviderConfig) -> Provider:
    instances = _by_loop.setdefault(asyncio.get_running_loop(), {})
    current = instances.get(config.id)
    if current is not None and current.config == config:
        return current
    provider = provider_class(config.kind)(config)
    instances[config.id] = provider
    if current is not None:  # configuration changed: let the old client finish and close
        asyncio.get_running_loop().create_task(current.aclose())
    return provider
