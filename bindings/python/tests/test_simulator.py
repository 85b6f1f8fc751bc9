# SPDX-License-Identifier: Apache-2.0
"""The binding against the provider simulator (tests/upstream, `aigw-sim`),
speaking OpenAI's wire format over real HTTP.

Skipped unless AIGW_SIM_PATH names the simulator binary (ctest sets it).
"""

import os
import queue
import subprocess
import threading
import time
import unittest

import aigw

SIM_PATH = os.environ.get("AIGW_SIM_PATH")
RECORDINGS = os.environ.get("AIGW_RECORDINGS_DIR")
HAVE_RECORDINGS = bool(RECORDINGS) and os.path.isdir(RECORDINGS or "")
API_KEY = "sk-test"
MODEL = "sim/gpt-4o-mini"


def user(text):
    return [{"role": "user", "content": text}]


def delta_text(chunks):
    return "".join(
        (ch.get("delta") or {}).get("content") or "" for c in chunks for ch in c.get("choices", [])
    )


class Simulator:
    """Runs `aigw-sim --port 0 --api-key sk-test` and learns its port from the
    `listening on 127.0.0.1:PORT` line it prints."""

    def __init__(self, path, *args, timeout=15):
        self.proc = subprocess.Popen(
            [path, "--port", "0", "--api-key", API_KEY, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines = queue.Queue()

        def read():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        self.port = None
        while self.port is None:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                raise RuntimeError("aigw-sim did not say where it listens within %ss" % timeout)
            if line is None:
                self.stop()
                raise RuntimeError("aigw-sim exited before listening")
            if "listening on " in line:
                self.port = int(line.rsplit(":", 1)[1])
        self.base_url = "http://127.0.0.1:%d/v1" % self.port

    def connections(self):
        """How many connections to the simulator are open on the client's
        side (ESTABLISHED, from /proc/net/tcp): a request that was canceled
        upstream has closed its connection, even while the simulator itself
        has not noticed yet (e.g. during a latency fault). Idle keep-alive
        connections count too. None where /proc is not there."""
        n = 0
        try:
            with open("/proc/net/tcp") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    remote, state = fields[2], fields[3]
                    if state == "01" and int(remote.split(":")[1], 16) == self.port:
                        n += 1
        except OSError:
            return None
        return n

    def wait_connections(self, want, timeout=10.0):
        """Polls connections() until it is at most `want`; returns the last
        count seen (None without /proc)."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.connections()
            if n is None or n <= want or time.monotonic() > deadline:
                return n
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


@unittest.skipUnless(SIM_PATH and os.path.exists(SIM_PATH), "AIGW_SIM_PATH not set (no simulator)")
class TestSimulator(unittest.TestCase):
    def setUp(self):
        self.sim = Simulator(SIM_PATH)
        self.addCleanup(self.sim.stop)
        self.config = {
            "backends": {
                "sim": {"schema": "openai", "base_url": self.sim.base_url, "api_key": API_KEY}
            }
        }
        self.client = aigw.Client(config=self.config)
        self.addCleanup(self.client.close)

    def test_chat(self):
        r = self.client.chat(model=MODEL, messages=user("Say hello"))
        self.assertEqual(r["object"], "chat.completion")
        content = r["choices"][0]["message"]["content"]
        self.assertIsInstance(content, str)
        self.assertTrue(content)
        self.assertGreater(r["usage"]["total_tokens"], 0)

    def test_stream(self):
        chunks = list(
            self.client.chat_stream(
                model=MODEL, messages=user("Say hello"), stream_options={"include_usage": True}
            )
        )
        self.assertGreater(len(chunks), 1)
        for c in chunks:
            self.assertEqual(c["object"], "chat.completion.chunk")
        self.assertTrue(delta_text(chunks))
        self.assertIn("usage", chunks[-1])

    def test_stream_early_break(self):
        it = self.client.chat_stream(model=MODEL, messages=user("Tell me a long story"))
        first = next(it)
        self.assertEqual(first["object"], "chat.completion.chunk")
        it.close()
        r = self.client.chat(model=MODEL, messages=user("still there?"))
        self.assertTrue(r["choices"][0]["message"]["content"])

    def test_stream_really_streams(self):
        # The simulator pauses 100 ms between events: chunks must reach the
        # iterator as they arrive, not all at the end.
        t0 = time.monotonic()
        times = []
        chunks = []
        for c in self.client.chat_stream(
            model=MODEL, messages=user("one two three four five"), sim_fault="event_ms=100"
        ):
            times.append(time.monotonic() - t0)
            chunks.append(c)
        self.assertEqual(delta_text(chunks), "echo: one two three four five")
        self.assertGreaterEqual(times[-1] - times[0], 0.3)

    def test_stream_early_break_stops_upstream(self):
        words = " ".join("w%d" % i for i in range(20))
        t0 = time.monotonic()
        fault = "event_ms=200"
        for _ in self.client.chat_stream(model=MODEL, messages=user(words), sim_fault=fault):
            break  # the iterator is dropped here, which closes it
        # The whole stream would take about 4 s; stopping waits for one event at most.
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(self.client._active, 0)

    def test_stream_error_mid_stream(self):
        got = []
        with self.assertRaises(aigw.Error) as cm:
            for c in self.client.chat_stream(
                model=MODEL, messages=user("a b c d"), sim_fault="error_event=1"
            ):
                got.append(c)
        # The chunk before the error was delivered, then the error raised.
        self.assertEqual(len(got), 1)
        self.assertEqual(cm.exception.provider, "sim")
        self.assertIn("mid-stream", cm.exception.message)

    def test_stream_cut(self):
        got = []
        with self.assertRaises(aigw.BadResponseError) as cm:
            for c in self.client.chat_stream(
                model=MODEL, messages=user("a b c d e f"), sim_fault="cut_after=2"
            ):
                got.append(c)
        self.assertEqual(cm.exception.status_name, "AIGW_ETRUNCATED")
        self.assertLessEqual(len(got), 2)

    def test_malformed_response(self):
        with self.assertRaises(aigw.BadResponseError) as cm:
            self.client.chat(model=MODEL, messages=user("hi"), sim_fault="malformed=1")
        self.assertEqual(cm.exception.status_name, "AIGW_EBADRESPONSE")

    def test_rate_limit_fault(self):
        with self.assertRaises(aigw.RateLimitError) as cm:
            self.client.chat(model=MODEL, messages=user("hi"), sim_fault="status=429,retry_after=1")
        e = cm.exception
        self.assertIsInstance(e, aigw.Error)
        self.assertEqual(e.status_name, "AIGW_ERATELIMIT")
        self.assertEqual(e.http_status, 429)
        self.assertEqual(e.provider, "sim")
        self.assertTrue(e.retryable)

    def test_rate_limit_fault_stream(self):
        with self.assertRaises(aigw.RateLimitError) as cm:
            list(
                self.client.chat_stream(
                    model=MODEL, messages=user("hi"), sim_fault="status=429,retry_after=1"
                )
            )
        self.assertEqual(cm.exception.http_status, 429)

    def test_wrong_api_key(self):
        cfg = {"backends": {"sim": dict(self.config["backends"]["sim"], api_key="sk-wrong")}}
        with aigw.Client(config=cfg) as client:
            with self.assertRaises(aigw.AuthenticationError) as cm:
                client.chat(model=MODEL, messages=user("hi"))
        self.assertEqual(cm.exception.http_status, 401)
        self.assertEqual(cm.exception.status_name, "AIGW_EAUTH")

    def test_connection_refused(self):
        port = self.sim.port
        self.sim.stop()
        cfg = {
            "backends": {
                "gone": {"schema": "openai", "base_url": "http://127.0.0.1:%d/v1" % port,
                         "api_key": API_KEY}
            }
        }
        with aigw.Client(config=cfg) as client:
            with self.assertRaises(aigw.Error) as cm:
                client.chat(model="gone/gpt-4o-mini", messages=user("hi"))
        self.assertTrue(cm.exception.retryable)


@unittest.skipUnless(SIM_PATH and os.path.exists(SIM_PATH), "AIGW_SIM_PATH not set (no simulator)")
@unittest.skipUnless(HAVE_RECORDINGS, "no recorded OpenAI traffic (../shared/testdata/openai-recordings)")
class TestReplay(unittest.TestCase):
    """Recorded OpenAI answers, replayed byte for byte by the simulator."""

    def setUp(self):
        self.sim = Simulator(SIM_PATH, "--recordings", RECORDINGS)
        self.addCleanup(self.sim.stop)
        self.client = aigw.Client(config={"backends": {"sim": {
            "schema": "openai", "base_url": self.sim.base_url, "api_key": API_KEY}}})
        self.addCleanup(self.client.close)

    def recording(self, name):
        with open(os.path.join(RECORDINGS, name + ".yaml"), encoding="utf-8") as f:
            return f.read()

    def test_chat_basic(self):
        r = self.client.chat(model="sim/gpt-5-nano", messages=user("Hello!"),
                             sim_replay="chat-basic")
        text = self.recording("chat-basic")
        self.assertIn('"id": "%s"' % r["id"], text)
        self.assertTrue(r["choices"][0]["message"]["content"])
        self.assertIn(r["choices"][0]["message"]["content"][:40], text)
        self.assertIn('"total_tokens": %d' % r["usage"]["total_tokens"], text)

    def test_streaming(self):
        with self.client.chat_stream(model="sim/gpt-5-nano", messages=user("Hello!"),
                                     sim_replay="chat-streaming") as stream:
            chunks = list(stream)
        self.assertGreater(len(chunks), 1)
        self.assertIn(chunks[0]["id"], self.recording("chat-streaming"))
        self.assertTrue(delta_text(chunks))

    def test_bad_request(self):
        with self.assertRaises(aigw.BadRequestError) as cm:
            self.client.chat(model="sim/gpt-5-nano", messages=user("Hello!"),
                             sim_replay="chat-bad-request")
        self.assertEqual(cm.exception.http_status, 400)
        self.assertIn("max_completion_tokens", cm.exception.body)
        self.assertIn("max_completion_tokens", self.recording("chat-bad-request"))


if __name__ == "__main__":
    unittest.main()
