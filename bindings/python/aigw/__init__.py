# SPDX-License-Identifier: Apache-2.0
"""aigw — Python binding for libaigw, an AI gateway you can link.

    import aigw

    with aigw.Client() as client:
        r = client.chat(model="mock/echo", messages=[{"role": "user", "content": "hi"}])
        print(r["choices"][0]["message"]["content"])
        for chunk in client.chat_stream(model="mock/echo", messages=[...]):
            ...
        # Through the config's routes and budgets, as a team, with call info:
        r, info = client.call("chat", {"model": "mock/echo", "messages": [...]}, team="search")

    aigw.config_check("gateway.json")   # raises aigw.ConfigError naming the JSON path

Requests and responses are OpenAI-schema dicts. The library is found through
the environment variable AIGW_LIBRARY (a path to libaigw.so), else through
the system's dynamic loader (ctypes.util.find_library("aigw")).

A Client is safe to use from many threads at once. Every failure raises
aigw.Error (or one of its subclasses, e.g. aigw.RateLimitError).
"""

import ctypes
import json
import os
import queue
import threading

from . import _lib
from ._lib import lib
from ._errors import (  # noqa: F401  (re-exported)
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    CanceledError,
    BadRequestError,
    BadResponseError,
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
    make_error,
    status_name,
    strerror,
    take_error,
)

__all__ = [
    "Client",
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

__version__ = "0.1.0"

#: Path of the shared library that was loaded.
library_path = _lib.library_path

_LOG_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "off": 4}


def version():
    """The version of the loaded libaigw, e.g. "0.1.0"."""
    return lib.aigw_version_string().decode("ascii")


def version_info():
    """The version of the loaded libaigw as a (major, minor, patch) tuple."""
    v = lib.aigw_version()
    return ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)


def _require(name):
    if not _lib.has(name):
        raise make_error(
            Status.ENOTSUPPORTED,
            "%s is not in the loaded libaigw (%s); it needs a newer library"
            % (name, _lib.library_path),
        )
    return getattr(lib, name)


def config_check(path):
    """Validates a config file as Client(config_path=path) and the gateway
    would load it, without sending anything. Returns None when it is valid;
    raises ConfigError whose message names the JSON path and the reason
    (e.g. 'routes[2].backends[0]: unknown backend "azur"'), or Error with
    status EIO when the file cannot be read."""
    fn = _require("aigw_config_check")
    err = ctypes.c_void_p()
    rc = fn(os.fsencode(path), ctypes.byref(err))
    if rc != 0:
        raise take_error(rc, err.value)
    if err.value:
        lib.aigw_error_free(err.value)
    return None


_NO_CHUNK_CB = _lib.CHUNK_CB()  # a NULL aigw_chunk_cb

_OPS = {
    "chat": _lib.OP_CHAT,
    "chat_stream": _lib.OP_CHAT_STREAM,
    "embed": _lib.OP_EMBED,
}


def _op_code(op):
    if isinstance(op, str):
        try:
            return _OPS[op]
        except KeyError:
            raise ValueError(
                "unknown op %r (known: %s)" % (op, ", ".join(sorted(_OPS)))
            ) from None
    if isinstance(op, int) and op in _OPS.values():
        return op
    raise ValueError("unknown op %r" % (op,))


def _opt_text(name, value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("%s must be a string or None, not %s" % (name, type(value).__name__))
    return value.encode("utf-8")


def _header_pairs(headers):
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    pairs = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError("headers must be a dict or (name, value) pairs") from None
        pairs.append((_opt_text("header name", name), _opt_text("header value", value)))
    for name, value in pairs:
        if not name or value is None:
            raise ValueError("a header needs a non-empty name and a value")
    return pairs


class _CallOptions:
    """An aigw_call_options with everything it points to kept alive."""

    def __init__(self, key, team, user, headers):
        self.strings = [_opt_text("key", key), _opt_text("team", team), _opt_text("user", user)]
        pairs = _header_pairs(headers)
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

    def info_dict(self, into=None):
        """The call info as a dict (updating `into` in place when given)."""
        i = self.info
        rl = i.ratelimit
        d = {
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

    def decorate(self, exc, info):
        """Attaches what the call did to its exception."""
        exc.info = info
        rl = info.get("ratelimit")
        if rl and exc.status == Status.EBUDGET:
            exc.retry_after = rl["retry_after_seconds"]
        return exc


def _encode_request(request, fields):
    if request is None:
        req = {}
    elif isinstance(request, (str, bytes, bytearray)):
        req = json.loads(request)
        if not isinstance(req, dict):
            raise TypeError("request JSON must be an object")
    elif isinstance(request, dict):
        req = dict(request)
    else:
        raise TypeError(
            "request must be a dict, a JSON string or None, not %s" % type(request).__name__
        )
    for k, v in fields.items():
        if v is not None:
            req[k] = v
    return json.dumps(req, separators=(",", ":")).encode("utf-8")


def _take_string(ptr):
    """Copies and frees a char* the library handed over (a c_void_p)."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value)
    finally:
        lib.aigw_free(ptr.value)


def _closed_error():
    return make_error(Status.EINVAL, "the client is closed")


class Client:
    """A libaigw client: configuration, backends and connection pools.

    Client(config=None, config_path=None, log=None, log_level="info")

    config       the configuration as a dict or a JSON string
    config_path  a JSON configuration file (not together with `config`)
    log          a callable(level: str, message: str) that receives the
                 library's log lines ("debug", "info", "warn", "error");
                 it is called from whichever thread made the call and must
                 not call back into this client
    log_level    lines below this level are not produced

    With neither config nor config_path the client is configured from the
    environment alone. Use it as a context manager, or call close().
    """

    def __init__(self, config=None, config_path=None, log=None, log_level="info"):
        self._handle = None
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False
        self._streams = set()
        self._log = log
        self._log_cb = None

        if config is not None and config_path is not None:
            raise ValueError("give config or config_path, not both")
        if isinstance(log_level, str):
            try:
                level = _LOG_LEVELS[log_level.lower()]
            except KeyError:
                raise ValueError("unknown log level %r" % log_level) from None
        else:
            level = int(log_level)

        opts = _lib.ClientOptions()
        rc = lib.aigw_client_options_init(ctypes.byref(opts), _lib.CLIENT_OPTIONS_VERSION)
        if rc != 0:
            raise make_error(rc, "aigw_client_options_init failed")
        if config is not None:
            if isinstance(config, dict):
                config = json.dumps(config)
            if isinstance(config, str):
                config = config.encode("utf-8")
            opts.config_json = bytes(config)
        if config_path is not None:
            opts.config_path = os.fsencode(config_path)
        if log is not None:
            if not callable(log):
                raise TypeError("log must be callable(level, message)")
            self._log_cb = _lib.LOG_CB(self._on_log)
            opts.log_cb = self._log_cb
        opts.log_level = level

        handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = lib.aigw_client_new(ctypes.byref(handle), ctypes.byref(opts), ctypes.byref(err))
        if rc != 0:
            raise take_error(rc, err.value)
        self._handle = handle.value

    # -- logging ---------------------------------------------------------

    def _on_log(self, level, message, _user):
        # Runs inside a C callback: no exception may escape.
        try:
            name = lib.aigw_log_level_name(level)
            name = name.decode("ascii") if name else str(level)
            text = message.decode("utf-8", "replace") if message else ""
            self._log(name, text)
        except BaseException:  # noqa: BLE001
            pass

    # -- lifetime --------------------------------------------------------

    def _acquire(self):
        with self._cond:
            if self._handle is None or self._closing:
                raise _closed_error()
            self._active += 1
            return self._handle

    def _release(self):
        with self._cond:
            self._active -= 1
            if self._active == 0:
                self._cond.notify_all()

    def close(self):
        """Frees the client. Waits for calls in flight on other threads (and
        asks running streams to stop). Calling it again is a no-op."""
        with self._cond:
            if self._handle is None or self._closing:
                return
            self._closing = True
            for stop in list(self._streams):
                stop.set()
            while self._active:
                self._cond.wait()
            handle, self._handle = self._handle, None
        lib.aigw_client_free(handle)

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            if getattr(self, "_handle", None) is not None and lib is not None:
                self.close()
        except Exception:  # noqa: BLE001
            pass

    # -- calls -----------------------------------------------------------

    def _call_json(self, fn, *args, what="response"):
        """fn(handle, *args, &out, &err) returning JSON text, parsed."""
        handle = self._acquire()
        try:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = fn(handle, *args, ctypes.byref(out), ctypes.byref(err))
            if rc != 0:
                # The contract says *out is untouched on failure; free it anyway.
                _take_string(out)
                raise take_error(rc, err.value)
            data = _take_string(out)
        finally:
            self._release()
        if data is None:
            raise make_error(Status.EINTERNAL, "the library returned no " + what)
        return json.loads(data)

    def chat(self, request=None, *, model=None, messages=None, **fields):
        """A chat completion, whole. `request` is an OpenAI chat.completions
        request (dict); model=, messages= and any other keyword fields are
        merged into it. Returns the chat.completion as a dict."""
        body = _encode_request(request, dict(model=model, messages=messages, **fields))
        return self._call_json(lib.aigw_chat, body)

    def embed(self, request=None, *, model=None, input=None, **fields):
        """Embeddings. `request` is an OpenAI embeddings request (dict);
        model=, input= and other keyword fields are merged into it."""
        body = _encode_request(request, dict(model=model, input=input, **fields))
        return self._call_json(lib.aigw_embed, body)

    def models(self, provider=None):
        """The models of one backend (`provider`, e.g. "openai"), or of every
        configured backend, in OpenAI's list shape ({"object":"list","data":[...]})."""
        arg = None if provider is None else provider.encode("utf-8")
        return self._call_json(lib.aigw_models, arg)

    def call(self, op, request, *, key=None, team=None, user=None, headers=None, buffer=64):
        """One call through the config's routes and budgets, with the
        caller's identity, returning what the call did as well.

        op       "chat", "embed" or "chat_stream"
        request  the OpenAI request (dict or JSON text), as for chat()/embed()
        key, team, user
                 who is calling, for budgets scoped on them (and logs); user
                 None: the request's own "user" field, if any
        headers  request headers routes may match on: a dict, or
                 (name, value) pairs; names compare case-insensitively

        Returns (response, info). For "chat_stream" the response is an
        iterator of chunk dicts, as chat_stream() returns, and `info` is
        filled in place when the first chunk arrives and again at the end.
        info is a dict:
            backend        the backend that answered (or failed last), or None
            model          the model name sent to it
            attempts       upstream attempts made (0: refused before any)
            input_tokens, output_tokens
                           the usage the call was settled with (None: unknown)
            ratelimit      None, or the tightest budget's state: {"budget",
                           "limit", "remaining", "reset_seconds",
                           "retry_after_seconds"}
        An error is raised as by chat(), with `info` attached (e.info), and
        for a budget's refusal (BudgetExceededError) e.retry_after in seconds.
        """
        fn = _require("aigw_call")
        code = _op_code(op)
        body = _encode_request(request, {})
        copts = _CallOptions(key, team, user, headers)
        if code == _lib.OP_CHAT_STREAM:
            info = {}
            copts.info_dict(info)
            it = self._stream(body, max(1, int(buffer)), copts=copts, info=info)
            return it, info
        handle = self._acquire()
        try:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = fn(handle, code, body, ctypes.byref(copts.opts), _NO_CHUNK_CB, None,
                    ctypes.byref(out), ctypes.byref(err))
            info = copts.info_dict()
            if rc != 0:
                _take_string(out)
                raise copts.decorate(take_error(rc, err.value), info)
            data = _take_string(out)
        finally:
            self._release()
        if data is None:
            raise make_error(Status.EINTERNAL, "the library returned no response")
        return json.loads(data), info

    def budget_status(self):
        """Every budget's state, from the budget store (memory or Redis):
        {"store": "memory"|"redis", "budgets": [{"name", "limit", "scope",
        "counters": [{"instance", "limit", "remaining", "reset_seconds"}]}]}.
        Raises APIConnectionError (etc.) when Redis cannot be read."""
        return self._call_json(_require("aigw_budget_status"), what="budget status")

    def chat_stream(self, request=None, *, model=None, messages=None, buffer=64, **fields):
        """Streams a chat completion: returns an iterator of
        chat.completion.chunk dicts, each yielded as it arrives.

        The request starts on a worker thread when iteration starts. Closing
        the iterator (or dropping it, e.g. by breaking out of a `for` loop
        over it) stops the stream; an error,
        including one that happens mid-stream, is raised at the end of
        iteration, after the chunks that did arrive. `buffer` bounds how many
        chunks may wait for the consumer before the stream is held back."""
        body = _encode_request(request, dict(model=model, messages=messages, **fields))
        return self._stream(body, max(1, int(buffer)))

    def _stream(self, body, buffer, copts=None, info=None):
        # A generator: nothing happens until the first next(), so an iterator
        # that is never iterated holds no thread and no request.
        handle = self._acquire()
        q = queue.Queue(maxsize=buffer)
        stop = threading.Event()  # the consumer is gone, or the client is closing
        done = threading.Event()  # the C call has returned
        state = {"exc": None, "err": None, "first": False}

        def on_chunk(ptr, length, _user):
            # Runs inside a C callback: no exception may escape.
            try:
                if stop.is_set():
                    return 1
                if copts is not None and not state["first"]:
                    state["first"] = True
                    copts.info_dict(info)
                chunk = json.loads(ctypes.string_at(ptr, length))
                while not stop.is_set():  # hold the stream back while the consumer is behind
                    try:
                        q.put(chunk, timeout=0.05)
                        return 0
                    except queue.Full:
                        pass
                return 1
            except BaseException as e:  # noqa: BLE001
                state["exc"] = e
                return 1

        cb = _lib.CHUNK_CB(on_chunk)  # referenced until the C call has returned

        def run():
            try:
                err = ctypes.c_void_p()
                if copts is None:
                    rc = lib.aigw_chat_stream(handle, body, cb, None, ctypes.byref(err))
                else:
                    rc = lib.aigw_call(handle, _lib.OP_CHAT_STREAM, body,
                                       ctypes.byref(copts.opts), cb, None, None,
                                       ctypes.byref(err))
                    copts.info_dict(info)
                if rc != 0:
                    state["err"] = take_error(rc, err.value)
                    if copts is not None:
                        copts.decorate(state["err"], info)
            except BaseException as e:  # noqa: BLE001
                state["exc"] = e
            finally:
                with self._cond:
                    self._streams.discard(stop)
                self._release()
                done.set()
                try:
                    q.put_nowait(_END)
                except queue.Full:
                    pass  # the consumer polls `done`

        worker = threading.Thread(target=run, name="aigw-chat-stream", daemon=True)
        with self._cond:
            self._streams.add(stop)
        try:
            worker.start()
        except BaseException:
            with self._cond:
                self._streams.discard(stop)
            self._release()
            raise

        try:
            while True:
                try:
                    chunk = q.get(timeout=0.1)
                except queue.Empty:
                    if done.is_set() and q.empty():
                        break
                    continue
                if chunk is _END:
                    break
                yield chunk
        finally:
            # Reached on normal end, on an exception, and on close()/garbage
            # collection of the generator (early break): stop the stream and
            # wait for the C call to return so no callback outlives `cb`.
            stop.set()
            worker.join()
            del cb
        if state["exc"] is not None:
            e = state["exc"]
            if isinstance(e, ValueError):
                raise make_error(Status.EBADRESPONSE, "invalid chunk JSON: %s" % e) from e
            raise e
        if state["err"] is not None:
            raise state["err"]


_END = object()
