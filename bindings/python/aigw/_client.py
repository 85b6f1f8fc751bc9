# SPDX-License-Identifier: Apache-2.0
"""The synchronous client, and its stream."""

from __future__ import annotations

import ctypes
import json
import os
import queue
import threading
from typing import Any, Callable, Generic, Iterator, Optional, Set, Tuple, Type, TypeVar, Union

from . import _lib
from ._common import (
    JSON,
    CallOptions,
    Config,
    Headers,
    Request,
    check_timeout,
    closed_error,
    encode_request,
    log_level as parse_log_level,
    new_client,
    prepare_call,
    require,
    resolve_config,
    take_string,
)
from ._engine import Engine, Request as _Call, Sink
from ._errors import Error, Status, make_error, take_error
from ._lib import lib

LogCallback = Callable[[str, str], None]


def make_log_cb(log: Optional[LogCallback]) -> Optional[Any]:
    """The aigw_log_cb for a Python callable (None: no logging)."""
    if log is None:
        return None
    if not callable(log):
        raise TypeError("log must be callable(level, message)")
    fn: LogCallback = log

    def on_log(level: int, message: Optional[bytes], _user: Any) -> None:
        # Runs inside a C callback: no exception may escape.
        try:
            name = lib.aigw_log_level_name(level)
            text = message.decode("utf-8", "replace") if message else ""
            fn(name.decode("ascii") if name else str(level), text)
        except BaseException:  # noqa: BLE001
            pass

    return _lib.LOG_CB(on_log)


class _Waiter(Sink):
    def __init__(self) -> None:
        self.event = threading.Event()
        self.exc: Optional[Error] = None
        self.data: Optional[bytes] = None

    def done(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        self.exc, self.data = exc, data
        self.release()
        self.event.set()


class _End:
    def __init__(self, exc: Optional[Error]) -> None:
        self.exc = exc


class _StreamSink(Sink):
    def __init__(self) -> None:
        self.queue: "queue.SimpleQueue[Union[JSON, _End]]" = queue.SimpleQueue()
        self.finished = threading.Event()

    def chunk(self, chunk: JSON) -> None:
        self.queue.put(chunk)

    def done(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        self.release()
        self.finished.set()
        self.queue.put(_End(exc))


_S = TypeVar("_S", bound=Sink)


class _StreamBase(Generic[_S]):
    """What Stream and AsyncStream share: the request they start on first
    use, its sink, and the state of the stream."""

    def __init__(
        self,
        client: "Client",
        body: bytes,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
    ) -> None:
        self._client = client
        self._body = body
        self._copts = copts
        self._info = info
        self._sink: Optional[_S] = None
        self._call: Optional[_Call] = None
        self._engine: Optional[Engine] = None
        self._state = 0  # 0 not started, 1 running, 2 over (ended or closed)

    def _start(self, sink: _S) -> None:
        self._engine, self._call = self._client._begin(
            _lib.OP_CHAT_STREAM, self._body, sink, self._copts, self._info
        )
        self._sink = sink

    def _take(self, item: Union[JSON, "_End"], stop: Type[Exception]) -> JSON:
        """The chunk `item`; raises `stop` when the stream was closed
        meanwhile or ends here, or the error it ended with."""
        if self._state == 2:  # closed meanwhile (another thread, a cancel)
            raise stop
        if isinstance(item, _End):
            self._state = 2
            if item.exc is not None:
                raise item.exc
            raise stop
        return item

    @property
    def closed(self) -> bool:
        """True once the stream ended or was closed."""
        return self._state == 2


class Stream(_StreamBase[_StreamSink], Iterator[JSON]):
    """A streamed chat completion: an iterator of chat.completion.chunk dicts
    (each as it arrives) and a context manager.

    The request starts at the first next(). An error, also one after some
    chunks arrived, is raised when iteration reaches it. close() (or leaving
    the `with` block, or the stream being garbage-collected) cancels the
    request upstream: the library closes the transfer at once.
    """

    def __init__(
        self,
        client: "Client",
        body: bytes,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
    ) -> None:
        super().__init__(client, body, copts, info)
        self._lock = threading.Lock()

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> JSON:
        with self._lock:
            if self._state == 0:
                self._state = 2  # if starting fails, the stream is over
                self._start(_StreamSink())
                self._state = 1
        if self._state == 2:
            raise StopIteration
        assert self._sink is not None
        try:
            item = self._sink.queue.get()
        except BaseException:  # KeyboardInterrupt while waiting
            self.close()
            raise
        return self._take(item, StopIteration)

    def close(self) -> None:
        """Stops the stream: cancels the request upstream (the transfer is
        closed) and waits until the library has let go of it. Calling it
        again, or on an ended stream, is a no-op."""
        with self._lock:
            state, self._state = self._state, 2
        if state != 1 or self._sink is None or self._sink.finished.is_set():
            return
        assert self._engine is not None and self._call is not None
        self._engine.cancel(self._call)
        if not self._engine.on_loop_thread():
            self._sink.finished.wait()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_state", 0) == 1:
                self.close()
        except Exception:  # noqa: BLE001
            pass


class Client:
    """A libaigw client: configuration, backends and connection pools.

    Client(config=None, config_path=None, log=None, log_level="info", *, timeout=None)

    config       None: the config file the CLI would read ($AIGW_CONFIG, else
                 ~/.config/aigw/config.json if it exists, else the environment
                 alone); or a dict, JSON text (a str starting with "{"), or the
                 path of a JSON file (os.PathLike, or any other str)
    config_path  a JSON configuration file (not together with `config`)
    log          a callable(level: str, message: str) receiving the library's
                 log lines ("debug", "info", "warn", "error"); it runs on the
                 client's loop thread (models() and budget_status(): on the
                 calling thread) and must not call back into this client
    log_level    lines below this level are not produced
    timeout      seconds a chat, embedding or call may take, streams included
                 (from the start to the last chunk); past it the request is
                 canceled upstream and APITimeoutError raised. None: no limit
                 but the backends' own timeout_ms

    Calls run on libaigw's asynchronous engine on one libuv loop thread per
    client (started at the first call), which is what lets a timeout or a
    closed stream cancel a request at once. A client is safe to use from
    many threads. Use it as a context manager, or call close().
    """

    def __init__(
        self,
        config: Optional[Config] = None,
        config_path: Optional[Union[str, "os.PathLike[str]"]] = None,
        log: Optional[LogCallback] = None,
        log_level: Union[str, int] = "info",
        *,
        timeout: Optional[float] = None,
    ) -> None:
        self._handle: Optional[int] = None
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False
        self._calls: Set[_Call] = set()  # started, their done not yet run
        self._engine: Optional[Engine] = None
        self.timeout = check_timeout(timeout)
        level = parse_log_level(log_level)
        config_json, path = resolve_config(config, config_path)
        #: The config file the client was made from, or None (JSON given, or
        #: the environment alone).
        self.config_file: Optional[str] = path
        self._log_cb = make_log_cb(log)  # referenced as long as the client lives
        self._handle = new_client(config_json, path, self._log_cb, level)

    # -- lifetime --------------------------------------------------------

    def _acquire(self) -> int:
        with self._cond:
            if self._handle is None or self._closing:
                raise closed_error()
            self._active += 1
            return self._handle

    def _release(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active == 0:
                self._cond.notify_all()

    def _begin(
        self,
        op: int,
        body: bytes,
        sink: Sink,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
    ) -> Tuple[Engine, _Call]:
        """Starts a call on the client's loop (started on first use): the
        call is counted in here and out when its sink's done() runs."""
        handle = self._acquire()
        call = _Call(op, body, sink, copts, info, self.timeout)
        sink.release = lambda: self._end(call)
        try:
            with self._cond:
                if self._engine is None:
                    self._engine = Engine(handle, "aigw-client-loop")
                engine = self._engine
                self._calls.add(call)
            engine.start(call)
        except BaseException:
            self._end(call)
            raise
        return engine, call

    def _end(self, call: _Call) -> None:
        with self._cond:
            self._calls.discard(call)
        self._release()

    def close(self) -> None:
        """Frees the client. Waits for calls in flight on other threads,
        cancels running streams. Calling it again is a no-op."""
        self._close(cancel_calls=False)

    def _close(self, cancel_calls: bool) -> None:
        with self._cond:
            if self._handle is None or self._closing:
                return
            self._closing = True
            engine = self._engine
            calls = [c for c in self._calls if cancel_calls or c.op == _lib.OP_CHAT_STREAM]
        if engine is not None:
            for call in calls:
                engine.cancel(call)
        if engine is None or not engine.on_loop_thread():
            with self._cond:
                while self._active:
                    self._cond.wait()
        with self._cond:
            handle, self._handle = self._handle, None
        if engine is None:
            lib.aigw_client_free(handle)
        else:
            # Freed once the loop is closed: here after the join, or on the
            # loop thread's way out when closing from that thread (a client
            # collected there), which cannot wait for itself.
            def free() -> None:
                lib.aigw_client_free(handle)

            engine.shutdown(after=free)

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_handle", None) is not None and lib is not None:
                self.close()
        except Exception:  # noqa: BLE001
            pass

    # -- calls -----------------------------------------------------------

    def _run(
        self,
        op: int,
        body: bytes,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
    ) -> JSON:
        waiter = _Waiter()
        engine, call = self._begin(op, body, waiter, copts, info)
        try:
            waiter.event.wait()
        except BaseException:  # KeyboardInterrupt: cancel, let the loop let go
            engine.cancel(call)
            waiter.event.wait()
            raise
        if waiter.exc is not None:
            raise waiter.exc
        if waiter.data is None:
            raise make_error(Status.EINTERNAL, "the library returned no response")
        result: JSON = json.loads(waiter.data)
        return result

    def _call_sync(self, fn: Any, *args: Any, what: str = "response") -> JSON:
        """fn(handle, *args, &out, &err) returning JSON text, parsed (the
        blocking C API, on the calling thread)."""
        handle = self._acquire()
        try:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = fn(handle, *args, ctypes.byref(out), ctypes.byref(err))
            if rc != 0:
                take_string(out)  # the contract says *out is untouched; free it anyway
                raise take_error(rc, err.value)
            data = take_string(out)
        finally:
            self._release()
        if data is None:
            raise make_error(Status.EINTERNAL, "the library returned no " + what)
        result: JSON = json.loads(data)
        return result

    def chat(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        messages: Optional[Any] = None,
        **fields: Any,
    ) -> JSON:
        """A chat completion, whole. `request` is an OpenAI chat.completions
        request (dict or JSON text); model=, messages= and any other keyword
        fields are merged into a copy of it. Returns the chat.completion."""
        body = encode_request(request, dict(model=model, messages=messages, **fields))
        return self._run(_lib.OP_CHAT, body)

    def embed(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        input: Optional[Any] = None,
        **fields: Any,
    ) -> JSON:
        """Embeddings. `request` is an OpenAI embeddings request (dict or
        JSON text); model=, input= and other keyword fields are merged in."""
        body = encode_request(request, dict(model=model, input=input, **fields))
        return self._run(_lib.OP_EMBED, body)

    def chat_stream(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        messages: Optional[Any] = None,
        buffer: Optional[int] = None,
        **fields: Any,
    ) -> Stream:
        """Streams a chat completion: a Stream, an iterator of
        chat.completion.chunk dicts that is also a context manager:

            with client.chat_stream(model=..., messages=...) as stream:
                for chunk in stream: ...

        The request starts at the first next(); closing the stream cancels
        it upstream. An error, also one that happens mid-stream, is raised
        at the end of iteration, after the chunks that did arrive. `buffer`
        is accepted for compatibility and ignored: chunks are queued as they
        arrive (the loop thread never waits for a slow consumer)."""
        body = encode_request(request, dict(model=model, messages=messages, **fields))
        return Stream(self, body)

    def models(self, provider: Optional[str] = None) -> JSON:
        """The models of one backend (`provider`, e.g. "openai"), or of every
        configured backend, in OpenAI's list shape ({"object":"list","data":[...]}).
        Runs the blocking C call on the calling thread (no timeout of its own:
        the backend's timeout_ms bounds it)."""
        arg = None if provider is None else provider.encode("utf-8")
        return self._call_sync(lib.aigw_models, arg)

    def call(
        self,
        op: Union[str, int],
        request: Request,
        *,
        key: Optional[str] = None,
        team: Optional[str] = None,
        user: Optional[str] = None,
        headers: Optional[Headers] = None,
        buffer: Optional[int] = None,
    ) -> Tuple[Union[JSON, Stream], JSON]:
        """One call through the config's routes and budgets, with the
        caller's identity, returning what the call did as well.

        op       "chat", "embed" or "chat_stream"
        request  the OpenAI request (dict or JSON text), as for chat()/embed()
        key, team, user
                 who is calling, for budgets scoped on them (and logs); user
                 None: the request's own "user" field, if any
        headers  request headers routes may match on: a dict, or
                 (name, value) pairs; names compare case-insensitively

        Returns (response, info). For "chat_stream" the response is a Stream,
        as chat_stream() returns, and `info` is filled in place when the
        first chunk arrives and again at the end. info is a dict:
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
        code, body, copts, info = prepare_call(op, request, key, team, user, headers)
        if code == _lib.OP_CHAT_STREAM:
            return Stream(self, body, copts, info), info
        return self._run(code, body, copts, info), info

    def budget_status(self) -> JSON:
        """Every budget's state, from the budget store (memory or Redis):
        {"store": "memory"|"redis", "budgets": [{"name", "limit", "scope",
        "counters": [{"instance", "limit", "remaining", "reset_seconds"}]}]}.
        Raises APIConnectionError (etc.) when Redis cannot be read."""
        return self._call_sync(require("aigw_budget_status"), what="budget status")


def config_check(path: Union[str, "os.PathLike[str]"]) -> None:
    """Validates a config file as Client(config_path=path) and the gateway
    would load it, without sending anything. Returns None when it is valid;
    raises ConfigError whose message names the JSON path and the reason
    (e.g. 'routes[2].backends[0]: unknown backend "azur"'), or Error with
    status EIO when the file cannot be read."""
    fn = require("aigw_config_check")
    err = ctypes.c_void_p()
    rc = fn(os.fsencode(path), ctypes.byref(err))
    if rc != 0:
        raise take_error(rc, err.value)
    if err.value:
        lib.aigw_error_free(err.value)


__all__ = ["Client", "Stream", "config_check"]
