# SPDX-License-Identifier: Apache-2.0
"""Finding libaigw, and the ctypes declarations for it (include/aigw/*.h)
and for the few libuv functions the binding's loop thread needs.

The library is looked for (see candidates()): AIGW_LIBRARY when set, alone;
else sys.prefix/lib (cmake --install --prefix into a virtualenv or conda
prefix), the system's dynamic loader (libaigw.so.0), ctypes.util.find_library,
and /usr/local/lib (sudo cmake --install build, before ldconfig ran).

Only this module touches ctypes signatures. Every function the binding calls
is declared here with its argtypes and restype. Strings the library hands to
the caller (and that the caller must free with aigw_free) are declared as
c_void_p, never c_char_p, so ctypes does not convert them and lose the
pointer.
"""

import ctypes
import ctypes.util
import os
import sys
import sysconfig
from typing import Any, Dict, List, Optional, Set, Tuple

__all__ = [
    "lib",
    "library_path",
    "candidates",
    "CHUNK_CB",
    "LOG_CB",
    "DONE_CB",
    "ClientOptions",
    "CLIENT_OPTIONS_VERSION",
    "Header",
    "RateLimit",
    "CallInfo",
    "CallOptions",
    "CALL_OPTIONS_VERSION",
    "OP_CHAT",
    "OP_CHAT_STREAM",
    "OP_EMBED",
    "has",
    "uv",
]

#: The file names of libaigw's ABI this binding speaks (SOVERSION 0).
SONAMES = ("libaigw.so.0", "libaigw.0.dylib")


def _libdirs(prefix: str) -> List[str]:
    """The library directories `cmake --install --prefix PREFIX` may use
    (GNUInstallDirs: lib, lib64, or lib/<multiarch> for /usr)."""
    dirs = [os.path.join(prefix, "lib")]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs.append(os.path.join(prefix, "lib", multiarch))
    dirs.append(os.path.join(prefix, "lib64"))
    return dirs


def candidates() -> List[Tuple[str, str]]:
    """Where the binding looks for libaigw, in order, as (where, what to
    dlopen) pairs; AIGW_LIBRARY, when set, is the only one tried."""
    out: List[Tuple[str, str]] = []
    for d in _libdirs(sys.prefix):
        for name in SONAMES:
            out.append(("sys.prefix", os.path.join(d, name)))
    # The system's dynamic loader: LD_LIBRARY_PATH, ld.so.cache, /lib, /usr/lib.
    for name in SONAMES:
        out.append(("dynamic loader", name))
    found = ctypes.util.find_library("aigw")
    if found and found not in SONAMES:
        out.append(("ctypes.util.find_library", found))
    # Where `sudo cmake --install build` puts it, found even before ldconfig ran.
    for d in _libdirs("/usr/local"):
        for name in SONAMES:
            out.append(("/usr/local", os.path.join(d, name)))
    seen: Set[str] = set()
    unique = []
    for where, path in out:
        if path not in seen:
            seen.add(path)
            unique.append((where, path))
    return unique


def _load() -> Tuple[ctypes.CDLL, str]:
    path = os.environ.get("AIGW_LIBRARY")
    if path:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            raise ImportError(
                "aigw: cannot load the library named by AIGW_LIBRARY=%r: %s" % (path, e)
            ) from e
    tried = []
    for where, name in candidates():
        if os.path.isabs(name) and not os.path.exists(name):
            tried.append("  %s (%s): no such file" % (name, where))
            continue
        try:
            dll = ctypes.CDLL(name)
        except OSError as e:
            tried.append("  %s (%s): %s" % (name, where, e))
            continue
        return dll, _loaded_path(dll, name)
    raise ImportError(
        "aigw: libaigw (libaigw.so.0) not found. Install it (cmake --install build "
        "[--prefix %s]) or set AIGW_LIBRARY to its path. Looked in:\n%s"
        % (sys.prefix, "\n".join(tried))
    )


def _loaded_path(dll: ctypes.CDLL, name: str) -> str:
    """The file the dynamic loader actually opened for `name` (from
    /proc/self/maps on Linux), else `name` itself."""
    if os.path.isabs(name):
        return name
    try:
        fn = dll.aigw_version
        addr = ctypes.cast(fn, ctypes.c_void_p).value or 0
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    if lo <= addr < hi:
                        return parts[5]
    except (OSError, AttributeError, ValueError):
        pass
    return name


lib, library_path = _load()

c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_size_t = ctypes.c_size_t
P_void = ctypes.POINTER(c_void_p)  # char ** / aigw_client ** / aigw_error **

# typedef int (*aigw_chunk_cb)(const char *chunk_json, size_t len, void *user);
# The chunk is taken as a raw pointer and read with ctypes.string_at(p, len).
CHUNK_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)

# typedef void (*aigw_done_cb)(aigw_status status, const char *response_json,
#                              const aigw_error *err, void *user);  (async.h)
DONE_CB = ctypes.CFUNCTYPE(None, c_int, c_void_p, c_void_p, c_void_p)

# typedef void (*aigw_log_cb)(aigw_log_level level, const char *message, void *user);
LOG_CB = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)

CLIENT_OPTIONS_VERSION = 1


class ClientOptions(ctypes.Structure):
    """aigw_client_options, version 1 (client.h)."""

    _fields_ = [
        ("version", c_uint),
        ("config_path", c_char_p),
        ("config_json", c_char_p),
        ("log_cb", LOG_CB),
        ("log_user", c_void_p),
        ("log_level", c_int),
    ]


# call.h
OP_CHAT = 0
OP_CHAT_STREAM = 1
OP_EMBED = 2
CALL_OPTIONS_VERSION = 1


class Header(ctypes.Structure):
    """aigw_header (call.h)."""

    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class RateLimit(ctypes.Structure):
    """aigw_ratelimit (call.h)."""

    _fields_ = [
        ("known", c_int),
        ("budget", ctypes.c_char * 64),
        ("limit", ctypes.c_double),
        ("remaining", ctypes.c_double),
        ("reset_seconds", ctypes.c_double),
        ("retry_after_seconds", ctypes.c_double),
    ]


class CallInfo(ctypes.Structure):
    """aigw_call_info (call.h)."""

    _fields_ = [
        ("ratelimit", RateLimit),
        ("backend", ctypes.c_char * 64),
        ("model", ctypes.c_char * 128),
        ("attempts", c_uint),
        ("input_tokens", ctypes.c_longlong),
        ("output_tokens", ctypes.c_longlong),
    ]


class CallOptions(ctypes.Structure):
    """aigw_call_options, version 1 (call.h)."""

    _fields_ = [
        ("version", c_uint),
        ("key", c_char_p),
        ("team", c_char_p),
        ("user", c_char_p),
        ("headers", ctypes.POINTER(Header)),
        ("n_headers", c_size_t),
        ("info", ctypes.POINTER(CallInfo)),
    ]


def _declare(name: str, restype: Any, argtypes: List[Any]) -> Any:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_missing: Set[str] = set()


def _declare_optional(name: str, restype: Any, argtypes: List[Any]) -> Any:
    """For functions newer than some libaigw builds: a library without them
    still loads; has(name) says whether it is there."""
    try:
        return _declare(name, restype, argtypes)
    except AttributeError:
        _missing.add(name)
        return None


def has(name: str) -> bool:
    """Whether the loaded library exports `name`."""
    return name not in _missing and hasattr(lib, name)


# common.h
_declare("aigw_free", None, [c_void_p])
# version.h
_declare("aigw_version", c_uint, [])
_declare("aigw_version_string", c_char_p, [])  # static string, not freed
# status.h
_declare("aigw_strerror", c_char_p, [c_int])  # static strings
_declare("aigw_status_name", c_char_p, [c_int])
_declare("aigw_status_is_retryable", c_int, [c_int])
# error.h (strings owned by the error object: c_char_p copies them)
_declare("aigw_error_status", c_int, [c_void_p])
_declare("aigw_error_message", c_char_p, [c_void_p])
_declare("aigw_error_http_status", c_int, [c_void_p])
_declare("aigw_error_provider", c_char_p, [c_void_p])
_declare("aigw_error_body", c_char_p, [c_void_p])
_declare("aigw_error_json", c_char_p, [c_void_p])
_declare("aigw_error_free", None, [c_void_p])
# log.h
_declare("aigw_log_level_name", c_char_p, [c_int])
# client.h
_declare("aigw_client_options_init", c_int, [ctypes.POINTER(ClientOptions), c_uint])
_declare("aigw_client_new", c_int, [P_void, ctypes.POINTER(ClientOptions), P_void])
_declare("aigw_client_free", None, [c_void_p])
# chat.h
_declare("aigw_chat", c_int, [c_void_p, c_char_p, P_void, P_void])
_declare("aigw_chat_stream", c_int, [c_void_p, c_char_p, CHUNK_CB, c_void_p, P_void])
_declare("aigw_embed", c_int, [c_void_p, c_char_p, P_void, P_void])
_declare("aigw_models", c_int, [c_void_p, c_char_p, P_void, P_void])
# build.h
_declare("aigw_chat_response_text", c_int, [c_char_p, P_void])
# call.h (libaigw with routes and budgets)
_declare_optional(
    "aigw_call",
    c_int,
    [c_void_p, c_int, c_char_p, ctypes.POINTER(CallOptions), CHUNK_CB, c_void_p, P_void, P_void],
)
_declare_optional("aigw_budget_status", c_int, [c_void_p, P_void, P_void])
_declare_optional("aigw_config_check", c_int, [c_char_p, P_void])
# async.h (needs a libaigw built with the asynchronous API)
_ASYNC_ARGS = [c_void_p, c_void_p, c_char_p, DONE_CB, c_void_p, P_void, P_void]
_declare_optional("aigw_chat_async", c_int, _ASYNC_ARGS)
_declare_optional("aigw_embed_async", c_int, _ASYNC_ARGS)
_declare_optional(
    "aigw_chat_stream_async",
    c_int,
    [c_void_p, c_void_p, c_char_p, CHUNK_CB, DONE_CB, c_void_p, P_void, P_void],
)
_declare_optional(
    "aigw_call_async",
    c_int,
    [c_void_p, c_void_p, c_int, c_char_p, ctypes.POINTER(CallOptions), CHUNK_CB, DONE_CB,
     c_void_p, P_void, P_void],
)
_declare_optional("aigw_request_cancel", None, [c_void_p])
_declare_optional("aigw_loop_release", None, [c_void_p, c_void_p])


# -- libuv -----------------------------------------------------------------

# typedef void (*uv_async_cb)(uv_async_t *handle); uv_timer_cb likewise.
UV_HANDLE_CB = ctypes.CFUNCTYPE(None, c_void_p)
#: A NULL uv_close_cb.
UV_NO_CLOSE_CB: Any = ctypes.cast(0, UV_HANDLE_CB)
UV_RUN_DEFAULT = 0
UV_RUN_NOWAIT = 2


class _Uv:
    """libuv, as loaded by libaigw (dlopen of its soname returns the copy
    already mapped), with the handful of functions the loop thread calls.
    Handle and loop sizes come from libuv itself (uv_loop_size,
    uv_handle_size), so no struct layout is copied."""

    def __init__(self) -> None:
        names = ["libuv.so.1", "libuv.1.dylib"]
        found = ctypes.util.find_library("uv")
        if found:
            names.append(found)
        errors = []
        dll: Optional[ctypes.CDLL] = None
        for name in names:
            try:
                dll = ctypes.CDLL(name)
                break
            except OSError as e:
                errors.append("%s: %s" % (name, e))
        if dll is None:
            raise OSError("aigw: cannot load libuv (%s)" % "; ".join(errors))
        self.dll = dll
        # The functions, set by d() below.
        self.uv_loop_size: Any
        self.uv_handle_size: Any
        self.uv_handle_type_name: Any
        self.uv_loop_init: Any
        self.uv_loop_close: Any
        self.uv_run: Any
        self.uv_async_init: Any
        self.uv_async_send: Any
        self.uv_timer_init: Any
        self.uv_timer_start: Any
        self.uv_timer_stop: Any
        self.uv_close: Any
        self.uv_strerror: Any

        def d(name: str, restype: Any, argtypes: List[Any]) -> None:
            fn = getattr(dll, name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

        d("uv_loop_size", c_size_t, [])
        d("uv_handle_size", c_size_t, [c_int])
        d("uv_handle_type_name", c_char_p, [c_int])
        d("uv_loop_init", c_int, [c_void_p])
        d("uv_loop_close", c_int, [c_void_p])
        d("uv_run", c_int, [c_void_p, c_int])
        d("uv_async_init", c_int, [c_void_p, c_void_p, UV_HANDLE_CB])
        d("uv_async_send", c_int, [c_void_p])
        d("uv_timer_init", c_int, [c_void_p, c_void_p])
        d("uv_timer_start", c_int, [c_void_p, UV_HANDLE_CB, ctypes.c_uint64, ctypes.c_uint64])
        d("uv_timer_stop", c_int, [c_void_p])
        d("uv_close", None, [c_void_p, UV_HANDLE_CB])
        d("uv_strerror", c_char_p, [c_int])
        # uv_handle_type values, found by name rather than copied from uv.h.
        self.types: Dict[str, int] = {}  # name -> uv_handle_type
        for t in range(1, 64):
            n = self.uv_handle_type_name(t)
            if n:
                self.types[n.decode("ascii")] = t
        for n in ("async", "timer"):
            if n not in self.types:
                raise OSError("aigw: libuv has no %s handle type" % n)

    def alloc(self, size: int) -> "ctypes.Array[ctypes.c_uint64]":
        """Zeroed memory for a libuv struct, 8-byte aligned."""
        return (ctypes.c_uint64 * ((size + 7) // 8))()

    def error(self, rc: int) -> str:
        text: bytes = self.uv_strerror(rc)
        return text.decode("ascii", "replace")


_uv: Optional[_Uv] = None


def uv() -> _Uv:
    """libuv, loaded on first use."""
    global _uv
    if _uv is None:
        _uv = _Uv()
    return _uv
