# SPDX-License-Identifier: Apache-2.0
"""The binding against the built-in offline `mock` backend: no network, no config.

Run: see bindings/python/README.md, "Tests" (ctest: python_binding).
"""

import gc
import json
import re
import threading
import unittest

import aigw

PROMPT = "the quick brown fox jumps"


def user(text):
    return [{"role": "user", "content": text}]


def delta_text(chunks):
    out = []
    for c in chunks:
        for choice in c.get("choices", []):
            out.append((choice.get("delta") or {}).get("content") or "")
    return "".join(out)


class TestVersion(unittest.TestCase):
    def test_version_string(self):
        v = aigw.version()
        self.assertIsInstance(v, str)
        self.assertRegex(v, r"^\d+\.\d+\.\d+")

    def test_version_info_matches_string(self):
        major, minor, patch = aigw.version_info()
        self.assertTrue(aigw.version().startswith("%d.%d.%d" % (major, minor, patch)))

    def test_library_path(self):
        self.assertTrue(aigw.library_path)

    def test_status_helpers(self):
        self.assertEqual(aigw.status_name(aigw.Status.ERATELIMIT), "AIGW_ERATELIMIT")
        self.assertEqual(aigw.status_name(0), "AIGW_OK")
        self.assertEqual(aigw.strerror(aigw.Status.ERATELIMIT), "rate limited")
        self.assertTrue(aigw.is_retryable(aigw.Status.ERATELIMIT))
        self.assertFalse(aigw.is_retryable(aigw.Status.EBADREQUEST))
        # The Python enum and the C table agree on every name.
        for s in aigw.Status:
            self.assertEqual(aigw.status_name(s), "AIGW_" + s.name)


class MockTestCase(unittest.TestCase):
    def setUp(self):
        self.client = aigw.Client()

    def tearDown(self):
        self.client.close()


class TestChat(MockTestCase):
    def test_chat_echoes(self):
        r = self.client.chat(model="mock/echo", messages=user(PROMPT))
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(r["choices"][0]["message"]["content"], PROMPT)
        self.assertEqual(r["choices"][0]["message"]["role"], "assistant")
        usage = r["usage"]
        self.assertGreater(usage["prompt_tokens"], 0)
        self.assertGreater(usage["completion_tokens"], 0)
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])

    def test_chat_request_dict_and_fields(self):
        req = {"model": "mock/echo", "messages": user("from a dict")}
        r = self.client.chat(req, temperature=0.2, max_tokens=50)
        self.assertEqual(r["choices"][0]["message"]["content"], "from a dict")
        self.assertNotIn("temperature", req)  # the caller's dict is not modified

    def test_chat_keywords_override_request(self):
        r = self.client.chat({"model": "nope/x", "messages": user("a")}, model="mock/echo")
        self.assertEqual(r["choices"][0]["message"]["content"], "a")

    def test_chat_json_string_request(self):
        r = self.client.chat(json.dumps({"model": "mock/echo", "messages": user("json text")}))
        self.assertEqual(r["choices"][0]["message"]["content"], "json text")

    def test_chat_echoes_last_user_message(self):
        msgs = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ]
        r = self.client.chat(model="mock/echo", messages=msgs)
        self.assertEqual(r["choices"][0]["message"]["content"], "second")

    def test_chat_unicode(self):
        text = "héllo wörld — 你好 🌍"
        r = self.client.chat(model="mock/echo", messages=user(text))
        self.assertEqual(r["choices"][0]["message"]["content"], text)

    def test_chat_from_threads(self):
        results, errors = {}, []

        def work(i):
            try:
                for j in range(5):
                    r = self.client.chat(model="mock/echo", messages=user("t%d m%d" % (i, j)))
                    results[(i, j)] = r["choices"][0]["message"]["content"]
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 20)
        for (i, j), text in results.items():
            self.assertEqual(text, "t%d m%d" % (i, j))


class TestStream(MockTestCase):
    def test_stream_word_by_word(self):
        chunks = list(self.client.chat_stream(model="mock/echo", messages=user(PROMPT)))
        self.assertGreaterEqual(len(chunks), len(PROMPT.split()))
        for c in chunks:
            self.assertEqual(c["object"], "chat.completion.chunk")
        self.assertEqual(delta_text(chunks), PROMPT)
        finishes = [ch.get("finish_reason") for c in chunks for ch in c.get("choices", [])]
        self.assertIn("stop", finishes)

    def test_stream_include_usage(self):
        chunks = list(
            self.client.chat_stream(
                model="mock/echo", messages=user(PROMPT), stream_options={"include_usage": True}
            )
        )
        last = chunks[-1]
        self.assertEqual(last["choices"], [])
        self.assertGreater(last["usage"]["completion_tokens"], 0)
        self.assertEqual(delta_text(chunks), PROMPT)

    def test_stream_is_lazy(self):
        it = self.client.chat_stream(model="nope/x", messages=user("a"))
        # Nothing runs (and nothing fails) until iteration starts.
        del it
        gc.collect()

    def test_stream_early_break(self):
        words = " ".join("w%d" % i for i in range(200))
        seen = 0
        for _chunk in self.client.chat_stream(model="mock/echo", messages=user(words), buffer=1):
            seen += 1
            if seen == 2:
                break
        self.assertEqual(seen, 2)
        # The client is still usable, and no call is left in flight.
        r = self.client.chat(model="mock/echo", messages=user("after"))
        self.assertEqual(r["choices"][0]["message"]["content"], "after")
        self.assertEqual(self.client._active, 0)

    def test_stream_close_generator(self):
        words = " ".join("w%d" % i for i in range(100))
        it = self.client.chat_stream(model="mock/echo", messages=user(words))
        first = next(it)
        self.assertEqual(first["object"], "chat.completion.chunk")
        it.close()
        with self.assertRaises(StopIteration):
            next(it)
        self.assertEqual(self.client._active, 0)

    def test_stream_abandoned_generator(self):
        words = " ".join("w%d" % i for i in range(100))
        it = self.client.chat_stream(model="mock/echo", messages=user(words), buffer=1)
        next(it)
        del it
        gc.collect()
        self.assertEqual(self.client._active, 0)

    def test_stream_error_raised_on_iteration(self):
        with self.assertRaises(aigw.NoBackendError) as cm:
            for _ in self.client.chat_stream(model="nope/x", messages=user("a")):
                self.fail("no chunk expected")
        self.assertEqual(cm.exception.status_name, "AIGW_ENOBACKEND")

    def test_streams_from_threads(self):
        out, errors = {}, []

        def work(i):
            try:
                text = "thread %d says hello there" % i
                chunks = self.client.chat_stream(model="mock/echo", messages=user(text))
                out[i] = (text, delta_text(chunks))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for want, got in out.values():
            self.assertEqual(got, want)


class TestEmbedModels(MockTestCase):
    def test_embed_one(self):
        r = self.client.embed(model="mock/embed", input="hello")
        self.assertEqual(r["object"], "list")
        self.assertEqual(len(r["data"]), 1)
        vec = r["data"][0]["embedding"]
        self.assertGreater(len(vec), 0)
        self.assertTrue(all(isinstance(x, (int, float)) for x in vec))

    def test_embed_many(self):
        r = self.client.embed({"model": "mock/embed", "input": ["a", "b", "c"]})
        self.assertEqual(len(r["data"]), 3)
        self.assertEqual([d["index"] for d in r["data"]], [0, 1, 2])
        dims = {len(d["embedding"]) for d in r["data"]}
        self.assertEqual(len(dims), 1)

    def test_models_all(self):
        r = self.client.models()
        self.assertEqual(r["object"], "list")
        ids = [m["id"] for m in r["data"]]
        self.assertIn("mock/echo", ids)
        self.assertIn("mock/embed", ids)

    def test_models_one(self):
        ids = [m["id"] for m in self.client.models("mock")["data"]]
        self.assertIn("mock/echo", ids)
        self.assertTrue(all(i.startswith("mock/") for i in ids))

    def test_models_unknown_provider(self):
        with self.assertRaises(aigw.Error) as cm:
            self.client.models("nope")
        self.assertIn(cm.exception.status, (aigw.Status.ENOBACKEND, aigw.Status.ENOTFOUND))


class TestErrors(unittest.TestCase):
    def test_unknown_provider(self):
        with aigw.Client() as client:
            with self.assertRaises(aigw.Error) as cm:
                client.chat(model="nope/x", messages=user("hi"))
        e = cm.exception
        self.assertIsInstance(e, aigw.NoBackendError)
        self.assertEqual(e.status, aigw.Status.ENOBACKEND)
        self.assertEqual(e.status_name, "AIGW_ENOBACKEND")
        self.assertIsInstance(e.message, str)
        self.assertTrue(e.message)
        self.assertEqual(e.http_status, 0)
        self.assertFalse(e.retryable)
        self.assertIn("AIGW_ENOBACKEND", str(e))
        self.assertIn('"error"', e.json)

    def test_malformed_config(self):
        for bad in ("{", "[1, 2]", '{"backends": 3}', {"no_such_key": 1},
                    {"backends": {"x": {"schema": "openai"}}}):
            with self.subTest(config=bad):
                with self.assertRaises(aigw.ConfigError) as cm:
                    aigw.Client(config=bad)
                self.assertEqual(cm.exception.status_name, "AIGW_ECONFIG")
                self.assertTrue(cm.exception.message)

    def test_config_dict(self):
        cfg = {"backends": {"local": {"schema": "openai", "base_url": "http://127.0.0.1:9/v1"}}}
        with aigw.Client(config=cfg) as client:
            r = client.chat(model="mock/echo", messages=user("configured"))
            self.assertEqual(r["choices"][0]["message"]["content"], "configured")

    def test_config_path_missing(self):
        with self.assertRaises(aigw.Error) as cm:
            aigw.Client(config_path="/nonexistent/aigw-config.json")
        self.assertIn(cm.exception.status, (aigw.Status.EIO, aigw.Status.ECONFIG))

    def test_config_and_path(self):
        with self.assertRaises(ValueError):
            aigw.Client(config={}, config_path="/x")

    def test_bad_request(self):
        with aigw.Client() as client:
            with self.assertRaises(aigw.Error) as cm:
                client.chat(model="mock/echo", messages="not a list")
            self.assertEqual(cm.exception.status_name, "AIGW_EBADREQUEST")
            with self.assertRaises(TypeError):
                client.chat(42)

    def test_closed_client(self):
        client = aigw.Client()
        client.close()
        client.close()  # a no-op
        self.assertTrue(client.closed)
        with self.assertRaises(aigw.Error) as cm:
            client.chat(model="mock/echo", messages=user("hi"))
        self.assertEqual(cm.exception.status, aigw.Status.EINVAL)
        with self.assertRaises(aigw.Error):
            list(client.chat_stream(model="mock/echo", messages=user("hi")))

    def test_error_is_exception(self):
        e = aigw.RateLimitError(aigw.Status.ERATELIMIT, "slow down", 429, "sim")
        self.assertIsInstance(e, aigw.Error)
        self.assertIsInstance(e, Exception)
        self.assertEqual(e.status_name, "AIGW_ERATELIMIT")
        self.assertTrue(e.retryable)
        self.assertEqual(re.sub(r"\s+", " ", str(e)), "AIGW_ERATELIMIT: slow down (HTTP 429, sim)")


class TestLog(unittest.TestCase):
    def test_log_callback(self):
        lines = []
        with aigw.Client(log=lambda level, msg: lines.append((level, msg)), log_level="debug") as c:
            c.chat(model="mock/echo", messages=user("hi"))
        for level, msg in lines:
            self.assertIn(level, ("debug", "info", "warn", "error"))
            self.assertIsInstance(msg, str)

    def test_log_callback_that_raises(self):
        def bad(level, msg):
            raise RuntimeError("must not cross into C")

        with aigw.Client(log=bad, log_level="debug") as c:
            r = c.chat(model="mock/echo", messages=user("still fine"))
            self.assertEqual(r["choices"][0]["message"]["content"], "still fine")

    def test_bad_log_level(self):
        with self.assertRaises(ValueError):
            aigw.Client(log_level="loud")


if __name__ == "__main__":
    unittest.main()
