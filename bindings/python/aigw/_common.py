# SPDX-License-Identifier: Apache-2.0
"""What Client and AsyncClient share: request encoding, call options, the
config file rule, and the few helpers around library-owned strings."""

from __future__ import annotations

import ctypes
import json
import os
import stat
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _lib
from ._errors import Error, Status, make_error
from ._lib import lib

#: A request: an OpenAI request dict, or its JSON text.
Request = Union[Mapping[str, Any], str, bytes, bytearray]
#: A config: a dict, JSON text, or the path of a JSON file.
Config = Union[Mapping[str, Any], str, bytes, bytearray, "os.PathLike[str]"]
#: Request headers: a mapping, or (name, value) pairs.
Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
JSON = Dict[str, Any]

LOG_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "off": 4}

OPS = {
    "chat": _lib.OP_CHAT,
    "chat_stream": _lib.OP_CHAT_STREAM,
    "embed": _lib.OP_EMBED,
}


def require(name: str) -> Any:
    """The library function `name`, or NotSupportedError when the loaded
    libaigw is too old to have it."""
    if not _lib.has(name):
        raise make_error(
            Status.ENOTSUPPORTED,
            "%s is not in the loaded libaigw (%s); it needs a newer library"
            % (name, _lib.library_path),
        )
    return getattr(lib, name)


def op_code(op: Union[str, int]) -> int:
    if isinstance(op, str):
        try:
            return OPS[op]
        except KeyError:
            raise ValueError(
                "unknown op %r (known: %s)" % (op, ", ".join(sorted(OPS)))
            ) from None
    if isinstance(op, int) and op in OPS.values():
        return op
    raise ValueError("unknown op %r" % (op,))


def opt_text(name: str, value: Optional[Union[str, bytes]]) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("%s must be a string or None, not %s" % (name, type(value).__name__))
    return value.encode("utf-8")


def header_pairs(headers: Optional[Headers]) -> List[Tuple[Optional[bytes], Optional[bytes]]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError("headers must be a dict or (name, value) pairs") from None
        pairs.append((opt_text("header name", name), opt_text("header value", value)))
    for name, value in pairs:
        if not name or value is None:
            raise ValueError("a header needs a non-empty name and a value")
    return pairs


class CallOptions:
    """An aigw_call_options with everything it points to kept alive (until
    the call's `done` has run: the library writes `info` until then)."""

    def __init__(
        self,
        key: Optional[str],
        team: Optional[str],
        user: Optional[str],
        headers: Optional[Headers],
    ) -> None:
        self.strings = [opt_text("key", key), opt_text("team", team), opt_text("user", user)]
        pairs = header_pairs(headers)
        self.headers = (_lib.Header * max(1, len(pairs)))()
        for i, (name, value) in enumerate(pairs):
            self.headers[i].name = name
            self.headers[i].value = value
        self.pairs = pairs  # the bytes the Header structs point into
        self.info = _lib.CallInfo()
        self.info.input_tokens = -1
        self.info.output_tokens = -1
        self.opts = _lib.CallOptions()
        self.opts.version = _lib.CALL_OPTIONS_VERSION
        self.opts.key, self.opts.team, self.opts.user = self.strings
        if pairs:
            self.opts.headers = ctypes.cast(self.headers, ctypes.POINTER(_lib.Header))
        self.opts.n_headers = len(pairs)
        self.opts.info = ctypes.pointer(self.info)

    def info_dict(self, into: Optional[JSON] = None) -> JSON:
        """The call info as a dict (updating `into` in place when given)."""
        i = self.info
        rl = i.ratelimit
        d: JSON = {
            "backend": i.backend.decode("utf-8", "replace") or None,
            "model": i.model.decode("utf-8", "replace") or None,
            "attempts": int(i.attempts),
            "input_tokens": None if i.input_tokens < 0 else int(i.input_tokens),
            "output_tokens": None if i.output_tokens < 0 else int(i.output_tokens),
            "ratelimit": None,
        }
        if rl.known:
            d["ratelimit"] = {
                "budget": rl.budget.decode("utf-8", "replace"),
                "limit": rl.limit,
                "remaining": rl.remaining,
                "reset_seconds": rl.reset_seconds,
                "retry_after_seconds": rl.retry_after_seconds,
            }
        if into is None:
            return d
        into.update(d)
        return into

    @staticmethod
    def decorate(exc: Error, info: JSON) -> Error:
        """Attaches what the call did to its exception."""
        exc.info = info
        rl = info.get("ratelimit")
        if rl and exc.status == Status.EBUDGET:
            exc.retry_after = rl["retry_after_seconds"]
        return exc


def encode_request(request: Optional[Request], fields: Mapping[str, Any]) -> bytes:
    if request is None:
        req: Dict[str, Any] = {}
    elif isinstance(request, (str, bytes, bytearray)):
        req = json.loads(request)
        if not isinstance(req, dict):
            raise TypeError("request JSON must be an object")
    elif isinstance(request, Mapping):
        req = dict(request)
    else:
        raise TypeError(
            "request must be a dict, a JSON string or None, not %s" % type(request).__name__
        )
    for k, v in fields.items():
        if v is not None:
            req[k] = v
    return json.dumps(req, separators=(",", ":")).encode("utf-8")


def prepare_call(
    op: Union[str, int],
    request: Request,
    key: Optional[str],
    team: Optional[str],
    user: Optional[str],
    headers: Optional[Headers],
) -> Tuple[int, bytes, CallOptions, JSON]:
    """What Client.call and AsyncClient.call start a call with: the op's
    code, the request body, the caller's options and the info dict the
    call fills in."""
    require("aigw_call_async")
    code = op_code(op)
    body = encode_request(request, {})
    copts = CallOptions(key, team, user, headers)
    return code, body, copts, copts.info_dict()


def take_string(ptr: ctypes.c_void_p) -> Optional[bytes]:
    """Copies and frees a char* the library handed over (a c_void_p)."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value)
    finally:
        lib.aigw_free(ptr.value)


def closed_error() -> Error:
    return make_error(Status.EINVAL, "the client is closed")


def log_level(level: Union[str, int]) -> int:
    if isinstance(level, str):
        try:
            return LOG_LEVELS[level.lower()]
        except KeyError:
            raise ValueError("unknown log level %r" % level) from None
    return int(level)


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds or None")
    if not timeout > 0 or timeout != timeout or timeout == float("inf"):
        raise ValueError("timeout must be a positive, finite number of seconds (or None)")
    return float(timeout)


def default_config_file() -> Tuple[Optional[str], Optional[str]]:
    """The config file a client given no config reads, by the CLI's rule
    (cli/config.c): $AIGW_CONFIG when set and non-empty (it must then name a
    file: ConfigError otherwise), else $HOME/.config/aigw/config.json when it
    exists, else none (the environment alone). Returns (path, where from)."""
    named = os.environ.get("AIGW_CONFIG")
    if named:
        try:
            st = os.stat(named)
        except OSError as e:
            raise make_error(
                Status.ECONFIG,
                "config file %s (from $AIGW_CONFIG): %s" % (named, e.strerror or e),
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise make_error(
                Status.ECONFIG, "config file %s (from $AIGW_CONFIG) is a directory" % named
            )
        return named, "$AIGW_CONFIG"
    home = os.environ.get("HOME")
    if home:
        path = os.path.join(home, ".config", "aigw", "config.json")
        try:
            os.stat(path)
        except OSError:
            return None, None
        return path, "~/.config/aigw/config.json"
    return None, None


def resolve_config(
    config: Optional[Config], config_path: Optional[Union[str, "os.PathLike[str]"]]
) -> Tuple[Optional[bytes], Optional[str]]:
    """(config JSON text, config file path), at most one of them set.

    config: None (the CLI's rule: default_config_file()), a dict, JSON text
    (str or bytes; a str whose first non-blank character is "{" or "["), or
    a file path (os.PathLike, or any other str)."""
    if config is not None and config_path is not None:
        raise ValueError("give config or config_path, not both")
    if config_path is not None:
        return None, os.fspath(config_path)
    if config is None:
        path, _ = default_config_file()
        return None, path
    if isinstance(config, Mapping):
        return json.dumps(config).encode("utf-8"), None
    if isinstance(config, (bytes, bytearray)):
        return bytes(config), None
    if isinstance(config, str):
        if config.lstrip()[:1] in ("{", "["):
            return config.encode("utf-8"), None
        return None, config
    if isinstance(config, os.PathLike):
        return None, os.fspath(config)
    raise TypeError(
        "config must be a dict, JSON text or a file path, not %s" % type(config).__name__
    )


def new_client(
    config_json: Optional[bytes],
    config_path: Optional[str],
    log_cb: Optional[Any],
    level: int,
) -> int:
    """aigw_client_new: the handle (an int), or raises the library's error."""
    from ._errors import take_error

    opts = _lib.ClientOptions()
    rc = lib.aigw_client_options_init(ctypes.byref(opts), _lib.CLIENT_OPTIONS_VERSION)
    if rc != 0:
        raise make_error(rc, "aigw_client_options_init failed")
    if config_json is not None:
        opts.config_json = config_json
    if config_path is not None:
        opts.config_path = os.fsencode(config_path)
    if log_cb is not None:
        opts.log_cb = log_cb
    opts.log_level = level
    handle = ctypes.c_void_p()
    err = ctypes.c_void_p()
    rc = lib.aigw_client_new(ctypes.byref(handle), ctypes.byref(opts), ctypes.byref(err))
    if rc != 0:
        raise take_error(rc, err.value)
    if err.value:
        lib.aigw_error_free(err.value)
    assert handle.value is not None
    return handle.value
