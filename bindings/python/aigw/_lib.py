# SPDX-License-Identifier: Apache-2.0
"""ctypes declarations for libaigw (include/aigw/*.h).

Only this module touches ctypes signatures. Every function the binding calls
is declared here with its argtypes and restype. Strings the library hands to
the caller (and that the caller must free with aigw_free) are declared as
c_void_p, never c_char_p, so ctypes does not convert them and lose the
pointer.
"""

import ctypes
import ctypes.util
import os

__all__ = [
    "lib",
    "library_path",
    "CHUNK_CB",
    "LOG_CB",
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
]


def _load():
    path = os.environ.get("AIGW_LIBRARY")
    if path:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            raise ImportError(
                "aigw: cannot load the library named by AIGW_LIBRARY=%r: %s" % (path, e)
            ) from e
    found = ctypes.util.find_library("aigw")
    if found:
        try:
            return ctypes.CDLL(found), found
        except OSError as e:
            raise ImportError(
                "aigw: found libaigw as %r but cannot load it: %s" % (found, e)
            ) from e
    raise ImportError(
        "aigw: libaigw not found. Install libaigw (so that the dynamic loader finds "
        "libaigw.so) or set AIGW_LIBRARY to the path of libaigw.so"
    )


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


def _declare(name, restype, argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_missing = set()


def _declare_optional(name, restype, argtypes):
    """For functions newer than some libaigw builds: a library without them
    still loads; has(name) says whether it is there."""
    try:
        return _declare(name, restype, argtypes)
    except AttributeError:
        _missing.add(name)
        return None


def has(name):
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
