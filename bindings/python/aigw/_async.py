# SPDX-License-Identifier: Apache-2.0
"""AsyncClient: the client for asyncio, on libaigw's asynchronous API.

Requests run on the client's libuv loop thread (_engine.Engine); their
results come back to the asyncio loop that awaits them through
call_soon_threadsafe. Cancelling the awaiting task, or closing a stream,
cancels the request upstream (aigw_request_cancel, on the loop thread).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any, AsyncIterator, Optional, Tuple, Union

from . import _lib
from ._client import Client, LogCallback, _End, _StreamBase
from ._common import (
    JSON,
    CallOptions,
    Config,
    Headers,
    Request,
    encode_request,
    prepare_call,
    require,
)
from ._engine import Sink
from ._errors import Error, Status, make_error


def _post(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    """fn(*args) on `loop`, from the libuv thread; dropped when the asyncio
    loop is already closed (nobody is left to hear of it)."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass


class _FutureSink(Sink):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: "asyncio.Future[Optional[bytes]]" = loop.create_future()

    def done(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        self.release()
        _post(self.loop, self._settle, exc, data)

    def _settle(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        if self.future.done():  # the awaiting task was cancelled
            return
        if exc is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(data)


class _QueueSink(Sink):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: "asyncio.Queue[Union[JSON, _End]]" = asyncio.Queue()
        self.finished = asyncio.Event()

    def chunk(self, chunk: JSON) -> None:
        _post(self.loop, self.queue.put_nowait, chunk)

    def done(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        self.release()
        _post(self.loop, self._end, exc)

    def _end(self, exc: Optional[Error]) -> None:
        self.finished.set()
        self.queue.put_nowait(_End(exc))


class AsyncStream(_StreamBase[_QueueSink], AsyncIterator[JSON]):
    """A streamed chat completion for asyncio: an async iterator of
    chat.completion.chunk dicts and an async context manager.

        async with client.chat_stream(model=..., messages=...) as stream:
            async for chunk in stream: ...

    The request starts at the first __anext__. Leaving the block, aclose(),
    or cancelling the task that iterates cancels the request upstream. An
    error (also one after some chunks) is raised when iteration reaches it.
    """

    def __aiter__(self) -> "AsyncStream":
        return self

    async def __anext__(self) -> JSON:
        if self._state == 0:
            self._state = 2  # if starting fails, the stream is over
            self._start(_QueueSink(asyncio.get_running_loop()))
            self._state = 1
        if self._state == 2:
            raise StopAsyncIteration
        assert self._sink is not None
        try:
            item = await self._sink.queue.get()
        except asyncio.CancelledError:
            self._cancel()
            raise
        return self._take(item, StopAsyncIteration)

    def _cancel(self) -> bool:
        state, self._state = self._state, 2
        if state != 1 or self._sink is None or self._sink.finished.is_set():
            return False
        assert self._engine is not None and self._call is not None
        self._engine.cancel(self._call)
        return True

    async def aclose(self) -> None:
        """Cancels the request upstream and waits until the library has let
        go of it. A no-op on an ended or closed stream."""
        if self._cancel():
            assert self._sink is not None
            await self._sink.finished.wait()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            if getattr(self, "_state", 0) == 1:
                self._cancel()
        except Exception:  # noqa: BLE001
            pass


class AsyncClient:
    """A libaigw client for asyncio: Client's methods as coroutines, streams
    as async iterators.

    AsyncClient(config=None, config_path=None, log=None, log_level="info", *, timeout=None)

    The arguments are Client's (the same config rule, the same timeout).
    Every call runs on one libuv loop on a background thread, through the
    library's asynchronous API, so thousands may be in flight at once;
    models() and budget_status() have no asynchronous form in the library
    and run the blocking call in the event loop's default executor.
    Cancelling the task that awaits a call cancels the request upstream.
    Close it with `await client.aclose()` or `async with AsyncClient() as c:`;
    aclose() cancels whatever is still in flight (those awaiting it get
    CanceledError).
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
        require("aigw_chat_async")
        self._client = Client(config, config_path, log, log_level, timeout=timeout)

    @property
    def timeout(self) -> Optional[float]:
        return self._client.timeout

    @property
    def config_file(self) -> Optional[str]:
        """The config file the client was made from, or None."""
        return self._client.config_file

    @property
    def closed(self) -> bool:
        return self._client.closed

    async def aclose(self) -> None:
        """Cancels the calls still in flight, stops the loop thread
        (releasing the client's engine on it and closing the loop) and frees
        the client. Calling it again is a no-op."""
        if self._client.closed:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, functools.partial(self._client._close, True))

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            client = getattr(self, "_client", None)
            if client is not None and not client.closed:
                client._close(True)
        except Exception:  # noqa: BLE001
            pass

    async def _run(
        self,
        op: int,
        body: bytes,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
    ) -> JSON:
        sink = _FutureSink(asyncio.get_running_loop())
        engine, call = self._client._begin(op, body, sink, copts, info)
        try:
            data = await sink.future
        except asyncio.CancelledError:
            engine.cancel(call)
            raise
        if data is None:
            raise make_error(Status.EINTERNAL, "the library returned no response")
        result: JSON = json.loads(data)
        return result

    async def chat(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        messages: Optional[Any] = None,
        **fields: Any,
    ) -> JSON:
        """As Client.chat."""
        body = encode_request(request, dict(model=model, messages=messages, **fields))
        return await self._run(_lib.OP_CHAT, body)

    async def embed(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        input: Optional[Any] = None,
        **fields: Any,
    ) -> JSON:
        """As Client.embed."""
        body = encode_request(request, dict(model=model, input=input, **fields))
        return await self._run(_lib.OP_EMBED, body)

    def chat_stream(
        self,
        request: Optional[Request] = None,
        *,
        model: Optional[str] = None,
        messages: Optional[Any] = None,
        **fields: Any,
    ) -> AsyncStream:
        """As Client.chat_stream, but an AsyncStream (not a coroutine: use
        it directly with `async for` or `async with`)."""
        body = encode_request(request, dict(model=model, messages=messages, **fields))
        return AsyncStream(self._client, body)

    async def call(
        self,
        op: Union[str, int],
        request: Request,
        *,
        key: Optional[str] = None,
        team: Optional[str] = None,
        user: Optional[str] = None,
        headers: Optional[Headers] = None,
    ) -> Tuple[Union[JSON, AsyncStream], JSON]:
        """As Client.call; for "chat_stream" the response is an AsyncStream."""
        code, body, copts, info = prepare_call(op, request, key, team, user, headers)
        if code == _lib.OP_CHAT_STREAM:
            return AsyncStream(self._client, body, copts, info), info
        return await self._run(code, body, copts, info), info

    async def models(self, provider: Optional[str] = None) -> JSON:
        """As Client.models (the blocking call, in the default executor)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._client.models, provider)

    async def budget_status(self) -> JSON:
        """As Client.budget_status (the blocking call, in the default executor)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._client.budget_status)


__all__ = ["AsyncClient", "AsyncStream"]
