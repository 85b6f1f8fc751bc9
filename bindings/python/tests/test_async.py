# SPDX-License-Identifier: Apache-2.0
"""aigw.AsyncClient: asyncio over libaigw's asynchronous API, against the
offline mock backend and the provider simulator (skipped without
AIGW_SIM_PATH)."""

import asyncio
import gc
import os
import threading
import time
import unittest

import aigw

from test_simulator import API_KEY, SIM_PATH, Simulator, delta_text

HAVE_SIM = bool(SIM_PATH) and os.path.exists(SIM_PATH or "")
MODEL = "sim/gpt-4o-mini"


def user(text):
    return [{"role": "user", "content": text}]


def loop_threads():
    return [t for t in threading.enumerate() if t.name == "aigw-client-loop"]


class AsyncTestCase(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = aigw.AsyncClient()

    async def asyncTearDown(self):
        await self.client.aclose()
        self.assertTrue(self.client.closed)
        self.assertEqual(self.client._client._active, 0)


class TestAsyncMock(AsyncTestCase):
    async def test_chat(self):
        r = await self.client.chat(model="mock/echo", messages=user("hello async"))
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(r["choices"][0]["message"]["content"], "hello async")

    async def test_chat_request_forms(self):
        r = await self.client.chat({"model": "mock/echo", "messages": user("dict")}, max_tokens=9)
        self.assertEqual(r["choices"][0]["message"]["content"], "dict")
        r = await self.client.chat('{"model": "mock/echo", "messages": [{"role": "user", '
                                   '"content": "text"}]}')
        self.assertEqual(r["choices"][0]["message"]["content"], "text")

    async def test_embed(self):
        r = await self.client.embed(model="mock/embed", input=["a", "b", "c"])
        self.assertEqual([d["index"] for d in r["data"]], [0, 1, 2])
        self.assertGreater(len(r["data"][0]["embedding"]), 0)

    async def test_models_and_budget_status(self):
        ids = [m["id"] for m in (await self.client.models())["data"]]
        self.assertIn("mock/echo", ids)
        self.assertEqual((await self.client.budget_status())["store"], "memory")

    async def test_stream(self):
        chunks = []
        async for chunk in self.client.chat_stream(model="mock/echo", messages=user("a b c d")):
            self.assertEqual(chunk["object"], "chat.completion.chunk")
            chunks.append(chunk)
        self.assertEqual(delta_text(chunks), "a b c d")

    async def test_stream_context_manager(self):
        words = " ".join("w%d" % i for i in range(300))
        async with self.client.chat_stream(model="mock/echo", messages=user(words)) as stream:
            async for _ in stream:
                break
        self.assertTrue(stream.closed)
        self.assertEqual(self.client._client._active, 0)
        with self.assertRaises(StopAsyncIteration):
            await stream.__anext__()

    async def test_gather_twenty(self):
        rs = await asyncio.gather(*[
            self.client.chat(model="mock/echo", messages=user("n%d" % i)) for i in range(20)
        ])
        self.assertEqual([r["choices"][0]["message"]["content"] for r in rs],
                         ["n%d" % i for i in range(20)])

    async def test_call(self):
        r, info = await self.client.call("chat", {"model": "mock/echo", "messages": user("x y")},
                                         team="search", headers={"x-env": "ci"})
        self.assertEqual(r["choices"][0]["message"]["content"], "x y")
        self.assertEqual(info["backend"], "mock")
        self.assertEqual(info["attempts"], 1)
        stream, info = await self.client.call("chat_stream",
                                              {"model": "mock/echo", "messages": user("s t")})
        async with stream:
            self.assertEqual(delta_text([c async for c in stream]), "s t")
        self.assertEqual(info["backend"], "mock")
        with self.assertRaises(ValueError):
            await self.client.call("complete", {})

    async def test_errors_are_the_sync_classes(self):
        with self.assertRaises(aigw.NoBackendError) as cm:
            await self.client.chat(model="nope/x", messages=user("a"))
        self.assertEqual(cm.exception.status_name, "AIGW_ENOBACKEND")
        with self.assertRaises(aigw.BadRequestError):
            await self.client.chat(model="mock/echo", messages="not a list")
        with self.assertRaises(aigw.NoBackendError):
            async for _ in self.client.chat_stream(model="nope/x", messages=user("a")):
                self.fail("no chunk expected")
        with self.assertRaises(aigw.NotFoundError) as cm:
            await self.client.call("chat", {"model": "mock/nothing", "messages": user("a")})
        self.assertIsInstance(cm.exception.info, dict)

    async def test_budget_refusal(self):
        cfg = {"budgets": [{"name": "small", "cost": "total_tokens",
                            "limit": {"type": "window", "per": "day", "max": 10}}],
               "accounting": {"default_max_tokens": 100}}
        async with aigw.AsyncClient(config=cfg) as client:
            with self.assertRaises(aigw.BudgetExceededError) as cm:
                await client.call("chat", {"model": "mock/echo", "messages": user("a")})
        self.assertEqual(cm.exception.retry_after, -1)

    async def test_closed_client(self):
        client = aigw.AsyncClient()
        await client.aclose()
        await client.aclose()  # a no-op
        with self.assertRaises(aigw.Error) as cm:
            await client.chat(model="mock/echo", messages=user("a"))
        self.assertEqual(cm.exception.status, aigw.Status.EINVAL)

    async def test_aclose_joins_the_loop_thread(self):
        before = len(loop_threads())
        async with aigw.AsyncClient() as client:
            await client.chat(model="mock/echo", messages=user("a"))
            self.assertEqual(len(loop_threads()), before + 1)
            engine = client._client._engine
        self.assertTrue(engine.closed)
        self.assertEqual(engine.loop_close_status, 0)  # uv_loop_close: every handle closed
        self.assertEqual(len(loop_threads()), before)

    async def test_many_clients_no_leaks(self):
        before = len(loop_threads())
        for _ in range(10):
            async with aigw.AsyncClient() as client:
                await asyncio.gather(*[
                    client.chat(model="mock/echo", messages=user("x")) for _ in range(3)])
                stream = client.chat_stream(model="mock/echo", messages=user("a b c d e"))
                await stream.__anext__()
                del stream  # abandoned mid-stream: cancelled when collected
                gc.collect()
        gc.collect()
        self.assertEqual(len(loop_threads()), before)


@unittest.skipUnless(HAVE_SIM, "AIGW_SIM_PATH not set (no simulator)")
class TestAsyncSimulator(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.sim = Simulator(SIM_PATH)
        self.config = {"backends": {"sim": {"schema": "openai", "base_url": self.sim.base_url,
                                            "api_key": API_KEY}}}
        self.client = aigw.AsyncClient(config=self.config)

    async def asyncTearDown(self):
        await self.client.aclose()
        self.sim.stop()

    async def test_chat_and_stream(self):
        r = await self.client.chat(model=MODEL, messages=user("Say hello"))
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: Say hello")
        chunks = [c async for c in self.client.chat_stream(
            model=MODEL, messages=user("one two"), stream_options={"include_usage": True})]
        self.assertEqual(delta_text(chunks), "echo: one two")
        self.assertIn("usage", chunks[-1])
        e = await self.client.embed(model="sim/text-embedding-3-small", input="x")
        self.assertEqual(len(e["data"]), 1)

    async def test_gather_twenty_concurrently(self):
        # Each answer waits 500 ms upstream: one after another would take 10 s.
        t0 = time.monotonic()
        rs = await asyncio.gather(*[
            self.client.chat(model=MODEL, messages=user("n%d" % i), sim_fault="latency_ms=500")
            for i in range(20)
        ])
        elapsed = time.monotonic() - t0
        self.assertEqual([r["choices"][0]["message"]["content"] for r in rs],
                         ["echo: n%d" % i for i in range(20)])
        self.assertLess(elapsed, 6.0)

    async def test_task_cancel_cancels_upstream(self):
        idle = self.sim.connections()
        task = asyncio.ensure_future(
            self.client.chat(model=MODEL, messages=user("slow"), sim_fault="latency_ms=8000"))
        await asyncio.sleep(0.5)
        if idle is not None:
            self.assertGreater(self.sim.connections(), idle)  # the request is upstream
        t0 = time.monotonic()
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        if idle is not None:
            n = await asyncio.get_running_loop().run_in_executor(
                None, self.sim.wait_connections, idle)
            self.assertLessEqual(n, idle)  # its connection was closed
        self.assertLess(time.monotonic() - t0, 5.0)
        r = await self.client.chat(model=MODEL, messages=user("after"))
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: after")
        self.assertEqual(self.client._client._active, 0)

    async def test_wait_for_timeout_cancels(self):
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(
                self.client.chat(model=MODEL, messages=user("x"), sim_fault="latency_ms=8000"),
                0.3)
        for _ in range(200):
            if self.client._client._active == 0:
                break
            await asyncio.sleep(0.02)
        self.assertEqual(self.client._client._active, 0)

    async def test_stream_close_cancels_upstream(self):
        idle = self.sim.connections()
        words = " ".join("w%d" % i for i in range(40))  # 10 s of stream
        t0 = time.monotonic()
        async with self.client.chat_stream(model=MODEL, messages=user(words),
                                           sim_fault="event_ms=250") as stream:
            async for _ in stream:
                break
        self.assertLess(time.monotonic() - t0, 5.0)
        if idle is not None:
            n = await asyncio.get_running_loop().run_in_executor(
                None, self.sim.wait_connections, idle)
            self.assertLessEqual(n, idle)

    async def test_stream_task_cancel(self):
        words = " ".join("w%d" % i for i in range(40))
        got = []

        async def consume():
            async for c in self.client.chat_stream(model=MODEL, messages=user(words),
                                                   sim_fault="event_ms=250"):
                got.append(c)

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.8)
        task.cancel()
        with self.assertRaises(asyncio.CancelledError):
            await task
        self.assertGreater(len(got), 0)
        for _ in range(200):
            if self.client._client._active == 0:
                break
            await asyncio.sleep(0.02)
        self.assertEqual(self.client._client._active, 0)

    async def test_timeout(self):
        async with aigw.AsyncClient(config=self.config, timeout=0.5) as client:
            t0 = time.monotonic()
            with self.assertRaises(aigw.APITimeoutError) as cm:
                await client.chat(model=MODEL, messages=user("x"), sim_fault="latency_ms=8000")
            self.assertLess(time.monotonic() - t0, 5.0)
            self.assertEqual(cm.exception.status, aigw.Status.ETIMEOUT)
            got = []
            with self.assertRaises(aigw.APITimeoutError):
                async for c in client.chat_stream(model=MODEL, messages=user("a b c d e f g h"),
                                                  sim_fault="event_ms=300"):
                    got.append(c)
            self.assertLess(len(got), 9)

    async def test_upstream_errors(self):
        with self.assertRaises(aigw.RateLimitError) as cm:
            await self.client.chat(model=MODEL, messages=user("x"),
                                   sim_fault="status=429,retry_after=1")
        self.assertEqual(cm.exception.http_status, 429)
        self.assertEqual(cm.exception.provider, "sim")
        got = []
        with self.assertRaises(aigw.Error) as cm:
            async for c in self.client.chat_stream(model=MODEL, messages=user("a b c d"),
                                                   sim_fault="error_event=1"):
                got.append(c)
        self.assertEqual(len(got), 1)
        self.assertIn("mid-stream", cm.exception.message)
        with self.assertRaises(aigw.BadResponseError):
            await self.client.chat(model=MODEL, messages=user("x"), sim_fault="malformed=1")
        cfg = {"backends": {"sim": dict(self.config["backends"]["sim"], api_key="sk-wrong")}}
        async with aigw.AsyncClient(config=cfg) as client:
            with self.assertRaises(aigw.AuthenticationError) as cm:
                await client.chat(model=MODEL, messages=user("x"))
        self.assertEqual(cm.exception.http_status, 401)

    async def test_aclose_cancels_calls_in_flight(self):
        task = asyncio.ensure_future(
            self.client.chat(model=MODEL, messages=user("x"), sim_fault="latency_ms=8000"))
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        await self.client.aclose()
        with self.assertRaises(aigw.CanceledError):
            await task
        self.assertLess(time.monotonic() - t0, 5.0)


if __name__ == "__main__":
    unittest.main()
