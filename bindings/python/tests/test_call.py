# SPDX-License-Identifier: Apache-2.0
"""Client.call() (aigw_call: identity, headers, call info), budget_status()
and config_check(): against the offline `mock` backend, the provider
simulator (routes; skipped without AIGW_SIM_PATH) and a redis-server on a
free loopback port (skipped when redis-server is not installed).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import aigw

from test_simulator import API_KEY, SIM_PATH, Simulator

PROMPT = "one two three"


def user(text):
    return [{"role": "user", "content": text}]


def chat_request(model="mock/echo", text=PROMPT, **fields):
    return dict(model=model, messages=user(text), **fields)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def window(name, per, max_, **fields):
    return dict(name=name, cost="total_tokens", limit={"type": "window", "per": per, "max": max_},
                **fields)


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aigw-py-call-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, config):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
        return path


BACKENDS = {
    "a": {"schema": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"},
    "b": {"schema": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"},
}


class TestConfigCheck(TempDirTestCase):
    def test_valid(self):
        path = self.write("ok.json", {
            "backends": BACKENDS,
            "routes": [{"name": "chat", "match": {"model": "gpt-*"},
                        "backends": [{"backend": "a", "weight": 2}, {"backend": "b"}]}],
            "budgets": [window("daily", "day", 1000)],
        })
        self.assertIsNone(aigw.config_check(path))
        self.assertIsNone(aigw.config_check(self.write("empty.json", "{}")))

    def assertRefused(self, config, message):
        path = self.write("bad.json", config)
        with self.assertRaises(aigw.ConfigError) as cm:
            aigw.config_check(path)
        self.assertEqual(cm.exception.status_name, "AIGW_ECONFIG")
        self.assertEqual(cm.exception.message, message)

    def test_dangling_backend(self):
        self.assertRefused({
            "backends": BACKENDS,
            "routes": [{"backends": [{"backend": "a"}]}, {"backends": [{"backend": "b"}]},
                       {"backends": [{"backend": "azur"}]}],
        }, 'routes[2].backends[0]: unknown backend "azur"')

    def test_unknown_key(self):
        self.assertRefused({"backends": BACKENDS,
                            "routes": [{"backends": [{"backend": "a"}], "bogus": 1}]},
                           'routes[0]: unknown key "bogus" (known: name, match, backends, retry)')

    def test_wrong_type(self):
        self.assertRefused({"backends": BACKENDS,
                            "routes": [{"backends": [{"backend": "a", "weight": "3"}]}]},
                           "routes[0].backends[0].weight: must be an integer")

    def test_impossible_value(self):
        self.assertRefused({"budgets": [window("x", "fortnight", 10)]},
                           "budgets[0].limit.per: must be minute, hour, day or month")

    def test_unreadable(self):
        missing = os.path.join(self.dir, "missing.json")
        with self.assertRaises(aigw.Error) as cm:
            aigw.config_check(missing)
        self.assertEqual(cm.exception.status, aigw.Status.EIO)
        self.assertIn(missing, cm.exception.message)

    def test_accepts_path_like(self):
        import pathlib

        self.assertIsNone(aigw.config_check(pathlib.Path(self.write("p.json", "{}"))))


class TestCallMock(unittest.TestCase):
    def setUp(self):
        self.client = aigw.Client()
        self.addCleanup(self.client.close)

    def test_chat(self):
        r, info = self.client.call("chat", chat_request())
        self.assertEqual(r["choices"][0]["message"]["content"], PROMPT)
        self.assertEqual(info["backend"], "mock")
        self.assertEqual(info["attempts"], 1)
        self.assertEqual(info["input_tokens"], 3)
        self.assertEqual(info["output_tokens"], 3)
        self.assertIsNone(info["ratelimit"])  # no budgets

    def test_request_as_json_text(self):
        r, _ = self.client.call("chat", json.dumps(chat_request(text="as text")))
        self.assertEqual(r["choices"][0]["message"]["content"], "as text")

    def test_embed(self):
        r, info = self.client.call("embed", {"model": "mock/embed", "input": ["a", "b"]},
                                   key="ci", team="search", user="ann")
        self.assertEqual(len(r["data"]), 2)
        self.assertEqual(info["backend"], "mock")
        self.assertEqual(info["attempts"], 1)

    def test_stream(self):
        it, info = self.client.call("chat_stream", chat_request(), headers={"x-team": "search"})
        chunks = list(it)
        text = "".join((c["choices"][0]["delta"].get("content") or "")
                       for c in chunks if c.get("choices"))
        self.assertEqual(text, PROMPT)
        self.assertEqual(info["backend"], "mock")
        self.assertEqual(info["attempts"], 1)

    def test_identity_and_headers_forms(self):
        for headers in ({"X-Team": "a"}, [("x-team", "a"), ("x-env", "ci")], None, {}):
            r, _ = self.client.call("chat", chat_request(), key="k", team="t", user="u",
                                    headers=headers)
            self.assertEqual(r["choices"][0]["message"]["content"], PROMPT)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            self.client.call("complete", chat_request())
        with self.assertRaises(TypeError):
            self.client.call("chat", chat_request(), headers=["x-team"])
        with self.assertRaises(TypeError):
            self.client.call("chat", chat_request(), team=5)
        with self.assertRaises(ValueError):
            self.client.call("chat", chat_request(), headers={"": "x"})

    def test_error_carries_info(self):
        with self.assertRaises(aigw.NotFoundError) as cm:
            self.client.call("chat", chat_request(model="mock/nothing"))
        self.assertIsInstance(cm.exception.info, dict)
        self.assertIsNone(cm.exception.retry_after)

    def test_no_budgets(self):
        status = self.client.budget_status()
        self.assertEqual(status["store"], "memory")
        self.assertEqual(status["budgets"], [])


def counter(status, budget, instance=""):
    for b in status["budgets"]:
        if b["name"] == budget:
            for c in b["counters"]:
                if c["instance"] == instance:
                    return c
    raise AssertionError("no counter %s [%s] in %s" % (budget, instance, status))


def status_within(test, client, seconds):
    """client.budget_status(), failing the test (instead of hanging the
    suite) when it does not return in time. The stuck call keeps the client
    busy, so the client is then left unclosed."""
    result = {}

    def run():
        try:
            result["status"] = client.budget_status()
        except BaseException as e:  # noqa: BLE001
            result["exc"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        client._closing = True  # close() would wait for the stuck call forever
        test.fail("budget_status() did not return within %d s (a deadlock?)" % seconds)
    if "exc" in result:
        raise result["exc"]
    return result["status"]


class TestBudgetsMemory(unittest.TestCase):
    CONFIG = {
        "budgets": [
            window("daily", "day", 10000),
            window("per-team", "hour", 500, scope={"team": "*"}),
            {"name": "burst", "cost": "total_tokens",
             "limit": {"type": "token_bucket", "capacity": 2000, "refill_per_second": 10}},
        ],
        "accounting": {"default_max_tokens": 16},
    }

    def setUp(self):
        self.client = aigw.Client(config=self.CONFIG)
        self.addCleanup(self.client.close)

    def test_status_before_use(self):
        status = self.client.budget_status()
        self.assertEqual(status["store"], "memory")
        self.assertEqual([b["name"] for b in status["budgets"]], ["daily", "per-team", "burst"])
        daily = counter(status, "daily")
        self.assertEqual(daily["limit"], 10000)
        self.assertEqual(daily["remaining"], 10000)
        self.assertEqual(counter(status, "burst")["remaining"], 2000)
        # A per-team budget has no counter until a team used it.
        per_team = [b for b in status["budgets"] if b["name"] == "per-team"][0]
        self.assertEqual(per_team["counters"], [])

    def test_calls_are_charged(self):
        for team in ("search", "search", "ads"):
            _, info = self.client.call("chat", chat_request(), team=team)
            self.assertEqual(info["input_tokens"] + info["output_tokens"], 6)
            rl = info["ratelimit"]
            self.assertIsNotNone(rl)
            self.assertEqual(rl["budget"], "per-team")  # the least share left
            self.assertEqual(rl["limit"], 500)
        status = status_within(self, self.client, 20)
        self.assertEqual(counter(status, "daily")["remaining"], 10000 - 18)
        self.assertEqual(counter(status, "per-team", "team=search")["remaining"], 500 - 12)
        self.assertEqual(counter(status, "per-team", "team=ads")["remaining"], 500 - 6)
        burst = counter(status, "burst")["remaining"]
        self.assertGreaterEqual(burst, 2000 - 18)
        self.assertLessEqual(burst, 2000)

    def test_refusal(self):
        cfg = {"budgets": [window("tiny", "day", 40)], "accounting": {"default_max_tokens": 16}}
        with aigw.Client(config=cfg) as client:
            for _ in range(30):
                try:
                    client.call("chat", chat_request(text="a"))
                except aigw.BudgetExceededError as e:
                    refused = e
                    break
            else:
                self.fail("the budget never refused")
        self.assertIsInstance(refused, aigw.RateLimitError)
        self.assertEqual(refused.status, aigw.Status.EBUDGET)
        self.assertEqual(refused.status_name, "AIGW_EBUDGET")
        self.assertIn("tiny", refused.message)
        self.assertEqual(refused.info["attempts"], 0)
        self.assertEqual(refused.info["ratelimit"]["budget"], "tiny")
        self.assertGreater(refused.retry_after, 0)

    def test_refusal_that_can_never_fit(self):
        cfg = {"budgets": [window("small", "day", 10)], "accounting": {"default_max_tokens": 100}}
        with aigw.Client(config=cfg) as client:
            with self.assertRaises(aigw.BudgetExceededError) as cm:
                client.call("chat", chat_request())
        self.assertEqual(cm.exception.retry_after, -1)


def redis_server():
    return shutil.which("redis-server")


@unittest.skipUnless(redis_server(), "redis-server is not installed")
class TestBudgetsRedis(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.skipTest("redis-server did not start")
            time.sleep(0.02)

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def config(self, port=None):
        return {
            "budgets": [window("daily", "day", 1000), window("per-team", "hour", 500,
                                                              scope={"team": "*"})],
            "accounting": {"store": {"type": "redis", "host": "127.0.0.1",
                                     "port": port or self.port, "prefix": "py-test:",
                                     "timeout_ms": 1000},
                           "default_max_tokens": 16},
        }

    def test_two_clients_share_the_counters(self):
        with aigw.Client(config=self.config()) as one, aigw.Client(config=self.config()) as two:
            one.call("chat", chat_request(), team="search")
            two.call("chat", chat_request(), team="search")
            two.call("embed", {"model": "mock/embed", "input": "x"}, team="ads")
            for client in (one, two):
                status = client.budget_status()
                self.assertEqual(status["store"], "redis")
                self.assertEqual(counter(status, "per-team", "team=search")["remaining"], 488)
                self.assertLess(counter(status, "daily")["remaining"], 988)

    def test_unreachable(self):
        with aigw.Client(config=self.config(port=free_port())) as client:
            with self.assertRaises(aigw.Error) as cm:
                client.budget_status()
        self.assertIn(cm.exception.status, (aigw.Status.ECONNECT, aigw.Status.ETIMEOUT))


@unittest.skipUnless(SIM_PATH and os.path.exists(SIM_PATH), "AIGW_SIM_PATH not set (no simulator)")
class TestRoutes(unittest.TestCase):
    def setUp(self):
        self.sim = Simulator(SIM_PATH)
        self.addCleanup(self.sim.stop)

        def backend(**extra):
            return dict(schema="openai", base_url=self.sim.base_url, api_key=API_KEY, **extra)

        self.client = aigw.Client(config={
            "backends": {
                "primary": backend(),
                "secondary": backend(),
                "broken": backend(headers={"x-sim-fault": "status=500"}),
            },
            "routes": [
                {"name": "search", "match": {"model": "gpt-4o", "headers": {"x-team": "search"}},
                 "backends": [{"backend": "primary", "model": "gpt-4o-mini"}]},
                {"name": "chat", "match": {"model": "gpt-4o"},
                 "backends": [{"backend": "broken", "model": "gpt-4o-mini"},
                              {"backend": "secondary", "model": "gpt-4o-mini", "priority": 1}],
                 "retry": {"attempts": 2, "backoff_ms": 1, "max_backoff_ms": 5}},
            ],
        })
        self.addCleanup(self.client.close)

    def test_header_picks_the_route(self):
        r, info = self.client.call("chat", chat_request(model="gpt-4o", text="ping"),
                                   headers={"X-Team": "search"})
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: ping")
        self.assertEqual(info["backend"], "primary")
        self.assertEqual(info["model"], "gpt-4o-mini")
        self.assertEqual(info["attempts"], 1)

    def test_fallback(self):
        r, info = self.client.call("chat", chat_request(model="gpt-4o", text="ping"))
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: ping")
        self.assertEqual(info["backend"], "secondary")
        self.assertEqual(info["attempts"], 2)

    def test_stream_fallback(self):
        it, info = self.client.call("chat_stream", chat_request(model="gpt-4o", text="ping"))
        text = "".join((c["choices"][0]["delta"].get("content") or "")
                       for c in it if c.get("choices"))
        self.assertEqual(text, "echo: ping")
        self.assertEqual(info["backend"], "secondary")
        self.assertEqual(info["attempts"], 2)

    def test_models_are_the_routes(self):
        ids = [m["id"] for m in self.client.models()["data"]]
        self.assertIn("gpt-4o", ids)
        self.assertFalse([i for i in ids if i.startswith("primary/")], ids)


if __name__ == "__main__":
    unittest.main()
