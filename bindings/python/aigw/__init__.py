# SPDX-License-Identifier: Apache-2.0
"""aigw — Python binding for libaigw, an AI gateway you can link.

    import aigw

    with aigw.Client() as client:       # the CLI's config: $AIGW_CONFIG, ~/.config/aigw/config.json
        r = client.chat(model="mock/echo", messages=[{"role": "user", "content": "hi"}])
        print(r["choices"][0]["message"]["content"])
        with client.chat_stream(model="mock/echo", messages=[...]) as stream:
            for chunk in stream:
                ...
        # Through the config's routes and budgets, as a team, with call info:
        r, info = client.call("chat", {"model": "mock/echo", "messages": [...]}, team="search")

    async with aigw.AsyncClient(timeout=30) as client:   # asyncio
        r = await client.chat(model="mock/echo", messages=[...])
        async for chunk in client.chat_stream(model="mock/echo", messages=[...]):
            ...

    aigw.config_check("gateway.json")   # raises aigw.ConfigError naming the JSON path

Requests and responses are OpenAI-schema dicts. libaigw (libaigw.so.0) is
found through AIGW_LIBRARY when set, else in sys.prefix/lib (cmake --install
--prefix "$VIRTUAL_ENV"), through the dynamic loader, and in /usr/local/lib;
see aigw.library_path for the one loaded.

Clients are safe to use from many threads at once. Every failure raises
aigw.Error (or one of its subclasses, e.g. aigw.RateLimitError).
"""

from __future__ import annotations

import os
import re
from typing import Tuple

from . import _lib
from ._async import AsyncClient, AsyncStream
from ._client import Client, Stream, config_check
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    BudgetExceededError,
    CanceledError,
    ConfigError,
    Error,
    InvalidArgumentError,
    NoBackendError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    RateLimitError,
    Status,
    StoppedError,
    TransportError,
    UpstreamError,
    is_retryable,
    status_name,
    strerror,
)
from ._lib import lib

__all__ = [
    "Client",
    "AsyncClient",
    "Stream",
    "AsyncStream",
    "version",
    "version_info",
    "library_path",
    "Status",
    "Error",
    "InvalidArgumentError",
    "ConfigError",
    "BadRequestError",
    "NoBackendError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "RateLimitError",
    "UpstreamError",
    "BadResponseError",
    "APIConnectionError",
    "APITimeoutError",
    "TransportError",
    "StoppedError",
    "NotSupportedError",
    "CanceledError",
    "BudgetExceededError",
    "config_check",
    "strerror",
    "status_name",
    "is_retryable",
]


def _package_version() -> str:
    """The package's version: written into aigw/_version.py when the package
    is built (setup.py, from the top-level CMakeLists.txt's
    project(aigw VERSION ...)); from a source tree, read from there."""
    try:
        import importlib

        return str(importlib.import_module(__name__ + "._version").__version__)
    except ImportError:
        pass
    top = os.path.join(os.path.dirname(__file__), "..", "..", "..", "CMakeLists.txt")
    try:
        with open(top, encoding="utf-8") as f:
            m = re.search(r"project\s*\(\s*aigw\s+VERSION\s+([0-9][0-9.]*)", f.read())
        if m:
            return m.group(1)
    except OSError:
        pass
    return "0+unknown"


#: The version of this package (the libaigw source tree it was built from).
__version__: str = _package_version()

#: Path of the shared library that was loaded.
library_path: str = _lib.library_path


def version() -> str:
    """The version of the loaded libaigw, e.g. "0.1.0"."""
    v: bytes = lib.aigw_version_string()
    return v.decode("ascii")


def version_info() -> Tuple[int, int, int]:
    """The version of the loaded libaigw as a (major, minor, patch) tuple."""
    v = lib.aigw_version()
    return ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)
