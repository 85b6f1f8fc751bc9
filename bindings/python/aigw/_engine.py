# SPDX-License-Identifier: Apache-2.0
"""One libuv loop on a background thread, running a client's requests
through libaigw's asynchronous API (include/aigw/async.h).

Every aigw_*_async call, every aigw_request_cancel and aigw_loop_release
runs ON the loop thread: other threads hand it work through a queue and wake
it with a uv_async_t (uv_async_send is the one libuv call that is safe from
any thread). A uv_timer_t cancels requests whose deadline passed, so a
client's timeout bounds a call whatever its caller is doing.

The done and chunk callbacks are two ctypes callbacks made once per loop;
each request is found through the integer `user` pointer, so no per-request
ctypes callback exists that could be freed while C still holds it.

Results reach the caller through a Sink: the sync Client waits on threading
primitives, the AsyncClient on asyncio futures (call_soon_threadsafe).
"""

from __future__ import annotations

import atexit
import ctypes
import heapq
import itertools
import json
import math
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from . import _lib
from ._common import CallOptions, JSON, require
from ._errors import Error, Status, error_from, make_error, take_error
from ._lib import lib

_RUNNING, _CLOSING, _CLOSED = 0, 1, 2


class Sink:
    """Where a request's results go. Both methods run on the loop thread
    and must not raise; done() calls release() (set by whoever started the
    call) first, so the call is counted out before its waiter wakes."""

    release: Callable[[], None] = staticmethod(lambda: None)

    def chunk(self, chunk: JSON) -> None:  # a stream's chunk, parsed
        pass

    def done(self, exc: Optional[Error], data: Optional[bytes]) -> None:
        raise NotImplementedError


class Request:
    """One call on the loop: what to send and where the results go."""

    def __init__(
        self,
        op: int,
        body: bytes,
        sink: Sink,
        copts: Optional[CallOptions] = None,
        info: Optional[JSON] = None,
        timeout: Optional[float] = None,
    ) -> None:
        self.op = op
        self.body = body
        self.sink = sink
        self.copts = copts
        self.info = info
        self.timeout = timeout
        self.id = 0
        self.handle: Optional[int] = None  # the aigw_request*, once started
        self.cancel_wanted = False
        self.timed_out = False
        self.finished = False
        self.first_chunk = True
        self.exc: Optional[BaseException] = None  # from parsing a chunk


_live: "weakref.WeakSet[Engine]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    # Loop threads are daemons; stop them before the interpreter finalizes,
    # so no callback runs into a half-torn-down interpreter.
    for engine in list(_live):
        try:
            engine.shutdown(timeout=5.0)
        except Exception:  # noqa: BLE001
            pass


class Engine:
    """A libuv loop on its own thread, running one client's requests."""

    def __init__(self, client_handle: int, name: str = "aigw-loop") -> None:
        for fn in ("aigw_chat_async", "aigw_request_cancel", "aigw_loop_release"):
            require(fn)
        uv = _lib.uv()
        self._uv = uv
        self._client = client_handle
        self._loop_mem = uv.alloc(uv.uv_loop_size())
        self._async_mem = uv.alloc(uv.uv_handle_size(uv.types["async"]))
        self._timer_mem = uv.alloc(uv.uv_handle_size(uv.types["timer"]))
        self.loop = ctypes.addressof(self._loop_mem)
        self._async = ctypes.addressof(self._async_mem)
        self._timer = ctypes.addressof(self._timer_mem)
        # The callbacks C may call: referenced for the Engine's whole life.
        self._wake_cb = _lib.UV_HANDLE_CB(self._on_wake)
        self._timer_cb = _lib.UV_HANDLE_CB(self._on_timer)
        self._done_cb = _lib.DONE_CB(self._on_done)
        self._chunk_cb = _lib.CHUNK_CB(self._on_chunk)

        # Reentrant: a stream or client collected by the GC while this
        # thread holds the lock calls back in (cancel, shutdown).
        self._lock = threading.RLock()
        self._jobs: Deque[Callable[[], None]] = deque()
        self._state = _RUNNING
        self._finish_wanted = False
        self._exited = False  # the thread has closed the loop
        self._after: List[Callable[[], None]] = []
        self._requests: Dict[int, Request] = {}
        self._ids = itertools.count(1)
        self._deadlines: List[Tuple[float, int]] = []
        self._timer_due: Optional[float] = None
        self.loop_close_status: Optional[int] = None

        rc = uv.uv_loop_init(self.loop)
        if rc != 0:
            raise make_error(Status.EINTERNAL, "uv_loop_init: %s" % uv.error(rc))
        rc = uv.uv_async_init(self.loop, self._async, self._wake_cb)
        if rc == 0:
            rc = uv.uv_timer_init(self.loop, self._timer)
        if rc != 0:
            # Close what was opened, run the loop so it closes, and give up.
            uv.uv_close(self._async, _lib.UV_NO_CLOSE_CB)
            uv.uv_run(self.loop, _lib.UV_RUN_DEFAULT)
            uv.uv_loop_close(self.loop)
            raise make_error(Status.EINTERNAL, "uv handle init: %s" % uv.error(rc))
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        _live.add(self)

    # -- any thread ------------------------------------------------------

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, job: Callable[[], None]) -> None:
        """Runs `job` on the loop thread; EINVAL once the loop is closing."""
        with self._lock:
            if self._state != _RUNNING:
                raise make_error(Status.EINVAL, "the client is closed")
            self._jobs.append(job)
            self._uv.uv_async_send(self._async)

    def start(self, req: Request) -> None:
        """Starts `req` on the loop; its sink hears of the result."""
        self.call_soon(lambda: self._start(req))

    def cancel(self, req: Request) -> None:
        """Asks the loop to cancel `req` (done then reports ECANCELED). A
        no-op once the request is finished or the loop is closing (which
        cancels everything itself)."""
        req.cancel_wanted = True
        try:
            self.call_soon(lambda: self._cancel(req))
        except Error:
            pass

    def shutdown(
        self, timeout: Optional[float] = None, after: Optional[Callable[[], None]] = None
    ) -> None:
        """Cancels what still runs, releases the client's engine on this
        loop (aigw_loop_release), closes the loop's handles, runs the loop
        until they are closed, closes it and joins the thread. Idempotent.
        `after` runs once the loop is closed (at once if it already is):
        on the loop thread's way out when shutdown is called from that
        thread (which cannot join itself), e.g. to free the client."""
        run_now = False
        with self._lock:
            if self._state == _RUNNING:
                self._state = _CLOSING
                self._jobs.append(self._begin_close)
                self._uv.uv_async_send(self._async)
            if after is not None:
                if self._exited:
                    run_now = True
                else:
                    self._after.append(after)
        if run_now and after is not None:
            after()
        if not self.on_loop_thread():
            self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return not self._thread.is_alive()

    # -- the loop thread -------------------------------------------------

    def _run(self) -> None:
        uv = self._uv
        uv.uv_run(self.loop, _lib.UV_RUN_DEFAULT)
        # Every handle is closed by now (ours and the library's); a loop that
        # still reports EBUSY gets a few more turns, then is left allocated.
        for _ in range(100):
            rc = uv.uv_loop_close(self.loop)
            self.loop_close_status = rc
            if rc == 0:
                break
            uv.uv_run(self.loop, _lib.UV_RUN_NOWAIT)
            time.sleep(0.01)
        else:
            _leaked.append(self._loop_mem)
        with self._lock:
            self._exited = True
            after, self._after = self._after, []
        for fn in after:
            try:
                fn()
            except BaseException:  # noqa: BLE001
                pass

    def _on_wake(self, _handle: Any) -> None:
        try:
            while True:
                with self._lock:
                    if not self._jobs:
                        break
                    job = self._jobs.popleft()
                try:
                    job()
                except BaseException:  # noqa: BLE001  (a job reports its own failures)
                    pass
            if self._finish_wanted and not self._requests:
                self._finish()
        except BaseException:  # noqa: BLE001  (nothing may escape into C)
            pass

    def _start(self, req: Request) -> None:
        if req.cancel_wanted or self._state == _CLOSED:
            req.finished = True
            why = "canceled before it started" if req.cancel_wanted else "the client is closed"
            req.sink.done(make_error(Status.ECANCELED, why), None)
            return
        rid = next(self._ids)
        req.id = rid
        self._requests[rid] = req
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        try:
            rc = self._submit(req, rid, out, err)
        except BaseException as e:  # noqa: BLE001
            del self._requests[rid]
            req.finished = True
            req.sink.done(make_error(Status.EINTERNAL, "starting the call: %r" % (e,)), None)
            return
        if rc != 0:
            del self._requests[rid]
            req.finished = True
            exc = take_error(rc, err.value)
            if req.copts is not None and req.info is not None:
                req.copts.info_dict(req.info)
                req.copts.decorate(exc, req.info)
            req.sink.done(exc, None)
            return
        if err.value:
            lib.aigw_error_free(err.value)
        req.handle = out.value
        if req.timeout is not None:
            heapq.heappush(self._deadlines, (time.monotonic() + req.timeout, rid))
            self._arm_timer()

    def _submit(self, req: Request, rid: int, out: ctypes.c_void_p, err: ctypes.c_void_p) -> int:
        user = ctypes.c_void_p(rid)
        rc: int
        if req.copts is not None:
            fn = require("aigw_call_async")
            rc = fn(self._client, self.loop, req.op, req.body, ctypes.byref(req.copts.opts),
                      self._chunk_cb, self._done_cb, user, ctypes.byref(out), ctypes.byref(err))
        elif req.op == _lib.OP_CHAT_STREAM:
            rc = lib.aigw_chat_stream_async(self._client, self.loop, req.body, self._chunk_cb,
                                              self._done_cb, user, ctypes.byref(out),
                                              ctypes.byref(err))
        else:
            fn = lib.aigw_embed_async if req.op == _lib.OP_EMBED else lib.aigw_chat_async
            rc = fn(self._client, self.loop, req.body, self._done_cb, user, ctypes.byref(out),
                    ctypes.byref(err))
        return rc

    def _cancel(self, req: Request) -> None:
        if req.handle is not None and self._requests.get(req.id) is req:
            lib.aigw_request_cancel(req.handle)

    def _on_chunk(self, ptr: Any, length: int, user: Any) -> int:
        req = None
        try:
            req = self._requests.get(user or 0)
            if req is None or req.cancel_wanted or req.timed_out:
                return 1
            if req.first_chunk:
                req.first_chunk = False
                if req.copts is not None and req.info is not None:
                    req.copts.info_dict(req.info)
            chunk = json.loads(ctypes.string_at(ptr, length))
            req.sink.chunk(chunk)
            return 0
        except BaseException as e:  # noqa: BLE001
            if req is not None:
                req.exc = e
            return 1

    def _on_done(self, status: int, response: Any, err: Any, user: Any) -> None:
        req = None
        try:
            req = self._requests.pop(user or 0, None)
            if req is None:
                return
            exc: Optional[Error] = None
            data: Optional[bytes] = None
            if req.copts is not None and req.info is not None:
                req.copts.info_dict(req.info)
            if status == 0:
                data = ctypes.string_at(response) if response else None
            elif req.exc is not None:
                e = req.exc
                if isinstance(e, ValueError):
                    exc = make_error(Status.EBADRESPONSE, "invalid chunk JSON: %s" % e)
                else:
                    exc = make_error(Status.EINTERNAL, "delivering a chunk: %r" % (e,))
            elif status == Status.ECANCELED and req.timed_out:
                exc = make_error(
                    Status.ETIMEOUT,
                    "no complete answer within %g s (the client's timeout); "
                    "the request was canceled" % (req.timeout or 0),
                )
            else:
                exc = error_from(status, err)
            if exc is not None and req.copts is not None and req.info is not None:
                req.copts.decorate(exc, req.info)
            req.finished = True
            req.sink.done(exc, data)
        except BaseException:  # noqa: BLE001
            pass
        finally:
            if self._state != _RUNNING and not self._requests:
                # The last one: finish on the next wake-up (not from inside
                # the library's callback, whose request still runs).
                self._finish_wanted = True
                self._uv.uv_async_send(self._async)

    def _arm_timer(self) -> None:
        while self._deadlines and self._deadlines[0][1] not in self._requests:
            heapq.heappop(self._deadlines)
        if not self._deadlines:
            if self._timer_due is not None:
                self._uv.uv_timer_stop(self._timer)
                self._timer_due = None
            return
        due = self._deadlines[0][0]
        if self._timer_due == due:
            return
        ms = max(0, math.ceil((due - time.monotonic()) * 1000))
        self._uv.uv_timer_start(self._timer, self._timer_cb, ms, 0)
        self._timer_due = due

    def _on_timer(self, _handle: Any) -> None:
        try:
            self._timer_due = None
            now = time.monotonic()
            while self._deadlines and self._deadlines[0][0] <= now:
                _, rid = heapq.heappop(self._deadlines)
                req = self._requests.get(rid)
                if req is not None and req.handle is not None:
                    req.timed_out = True
                    lib.aigw_request_cancel(req.handle)
            self._arm_timer()
        except BaseException:  # noqa: BLE001
            pass

    def _begin_close(self) -> None:
        for req in list(self._requests.values()):
            req.cancel_wanted = True
            if req.handle is not None:
                lib.aigw_request_cancel(req.handle)
        self._finish_wanted = True  # once every done has run

    def _finish(self) -> None:
        self._finish_wanted = False
        lib.aigw_loop_release(self._client, self.loop)
        with self._lock:
            self._state = _CLOSED
            jobs = list(self._jobs)
            self._jobs.clear()
        for job in jobs:  # starts that raced with close: _start sees cancel_wanted
            try:
                job()
            except BaseException:  # noqa: BLE001
                pass
        self._uv.uv_timer_stop(self._timer)
        self._uv.uv_close(self._timer, _lib.UV_NO_CLOSE_CB)
        self._uv.uv_close(self._async, _lib.UV_NO_CLOSE_CB)


_leaked: List[Any] = []  # loops that never closed: their memory must outlive libuv's use
