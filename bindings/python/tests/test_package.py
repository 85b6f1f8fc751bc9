# SPDX-License-Identifier: Apache-2.0
"""The package itself: where it and libaigw were found, its version and
py.typed, the config file a Client() with no config reads, the client
timeout, and streams as context managers that cancel upstream.

ctest runs this from a fresh virtualenv (tests/run_in_venv.sh), which sets
AIGW_TEST_INSTALLED=1 and AIGW_TEST_VERSION to CMake's PROJECT_VERSION.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest
from unittest import mock

import aigw

from test_simulator import API_KEY, SIM_PATH, Simulator, delta_text

INSTALLED = os.environ.get("AIGW_TEST_INSTALLED") == "1"
HAVE_SIM = bool(SIM_PATH) and os.path.exists(SIM_PATH or "")
PKG_DIR = os.path.dirname(os.path.abspath(aigw.__file__))


def user(text):
    return [{"role": "user", "content": text}]


def run_python(code, env=None):
    """Runs `code` in a new interpreter (this one's), returning (rc, output)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([sys.executable, "-c", code], env=full_env, cwd=tempfile.gettempdir(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return p.returncode, p.stdout


@unittest.skipUnless(INSTALLED, "not run from the installed package (run_in_venv.sh)")
class TestInstalled(unittest.TestCase):
    def test_imported_from_site_packages(self):
        purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
        self.assertEqual(os.path.commonpath([os.path.realpath(PKG_DIR), purelib]), purelib)
        self.assertNotEqual(sys.prefix, sys.base_prefix)  # a virtualenv

    def test_library_from_the_venv_prefix_without_environment(self):
        self.assertNotIn("AIGW_LIBRARY", os.environ)
        self.assertEqual(os.path.realpath(aigw.library_path),
                         os.path.realpath(os.path.join(sys.prefix, "lib", "libaigw.so.0")))

    def test_version_is_cmakes(self):
        want = os.environ["AIGW_TEST_VERSION"]
        self.assertEqual(aigw.__version__, want)
        self.assertEqual(aigw.version(), want)  # the library cmake --install'ed

    def test_metadata(self):
        from importlib import metadata

        self.assertEqual(metadata.version("aigw"), aigw.__version__)
        files = [str(f) for f in metadata.files("aigw") or []]
        self.assertIn("aigw/py.typed", [f.replace(os.sep, "/") for f in files])

    def test_chat_against_mock(self):
        with aigw.Client() as client:
            r = client.chat(model="mock/echo", messages=user("installed"))
        self.assertEqual(r["choices"][0]["message"]["content"], "installed")


class TestPackage(unittest.TestCase):
    def test_py_typed(self):
        self.assertTrue(os.path.isfile(os.path.join(PKG_DIR, "py.typed")))

    def test_versions(self):
        self.assertRegex(aigw.__version__, r"^\d+\.\d+\.\d+")
        self.assertRegex(aigw.version(), r"^\d+\.\d+\.\d+")

    def test_public_names(self):
        for name in aigw.__all__:
            self.assertTrue(hasattr(aigw, name), name)


EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                       "examples", "chat.py")


def mypy_command():
    """mypy: its script, or Debian's python3-mypy module; None if neither."""
    exe = shutil.which("mypy")
    if exe:
        return [exe]
    for py in ("/usr/bin/python3", shutil.which("python3")):
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import mypy"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode == 0:
            return [py, "-m", "mypy"]
    return None


TYPED_USER = """
import aigw

def sync() -> str:
    with aigw.Client(timeout=5) as client:
        r = client.chat(model="mock/echo", messages=[])
        with client.chat_stream(model="mock/echo") as stream:
            for chunk in stream:
                print(chunk["id"])
        return str(r["id"])

async def concurrent() -> None:
    async with aigw.AsyncClient() as client:
        async for chunk in client.chat_stream(model="mock/echo"):
            print(chunk["id"])
        e: aigw.Error = aigw.APITimeoutError(aigw.Status.ETIMEOUT)
        print(e.status_name)

wrong: int = aigw.version()
"""


@unittest.skipUnless(INSTALLED, "not run from the installed package (run_in_venv.sh)")
class TestTyped(unittest.TestCase):
    def test_mypy_sees_the_installed_types(self):
        # PEP 561: mypy uses the installed package's inline types only when
        # it has py.typed; the deliberate error below proves it did.
        mypy = mypy_command()
        if mypy is None:
            self.skipTest("mypy is not installed (Debian: python3-mypy)")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "user.py")
            with open(path, "w") as f:
                f.write(TYPED_USER)
            p = subprocess.run([*mypy, "--strict", "--no-incremental", "--python-executable",
                                sys.executable, path], cwd=d, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=300)
        errors = [line for line in p.stdout.splitlines() if ": error:" in line]
        self.assertEqual(len(errors), 1, p.stdout)
        self.assertIn('expression has type "str", variable has type "int"', errors[0])


class TestExample(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(EXAMPLE), "examples/chat.py not found")
    def test_chat_py(self):
        env = {"HOME": tempfile.gettempdir(), "AIGW_CONFIG": ""}
        for args, want in ((["mock/echo", "hello example"], "hello example"),
                           (["mock/echo", "stream these words", "--stream"], "stream these words")):
            p = subprocess.run([sys.executable, EXAMPLE, *args], env=dict(os.environ, **env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), want)


class TestLibraryDiscovery(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aigw-py-lib-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_order(self):
        from aigw import _lib

        places = [where for where, _ in _lib.candidates()]
        self.assertEqual(places[0], "sys.prefix")
        order = []
        for p in places:
            if p not in order:
                order.append(p)
        self.assertEqual([p for p in order if p != "ctypes.util.find_library"],
                         ["sys.prefix", "dynamic loader", "/usr/local"])
        paths = [path for _, path in _lib.candidates()]
        self.assertIn(os.path.join(sys.prefix, "lib", "libaigw.so.0"), paths)
        self.assertIn("libaigw.so.0", paths)
        self.assertIn("/usr/local/lib/libaigw.so.0", paths)

    def copy_library(self, prefix):
        os.makedirs(os.path.join(prefix, "lib"))
        target = os.path.join(prefix, "lib", "libaigw.so.0")
        shutil.copy(os.path.realpath(aigw.library_path), target)
        return target

    def test_environment_variable_wins(self):
        target = self.copy_library(os.path.join(self.dir, "elsewhere"))
        rc, out = run_python("import aigw; print(aigw.library_path)",
                             {"AIGW_LIBRARY": target})
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.strip().splitlines()[-1], target)

    def test_environment_variable_that_does_not_load(self):
        rc, out = run_python("import aigw", {"AIGW_LIBRARY": os.path.join(self.dir, "nope.so")})
        self.assertNotEqual(rc, 0)
        self.assertIn("ImportError", out)
        self.assertIn("AIGW_LIBRARY", out)

    # sys.prefix is the interpreter's; a child that sets it before importing
    # aigw stands for a venv (or conda prefix) the library was installed into.
    PREFIX_CODE = (
        "import sys, ctypes.util; sys.prefix = %r; ctypes.util.find_library = lambda n: None\n"
        "import aigw; print(aigw.library_path)"
    )

    def test_prefix_lib(self):
        prefix = os.path.join(self.dir, "prefix")
        target = self.copy_library(prefix)
        env = {"AIGW_LIBRARY": ""}
        rc, out = run_python(self.PREFIX_CODE % prefix, env)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.strip().splitlines()[-1], target)

    def test_not_found_says_where_it_looked(self):
        prefix = os.path.join(self.dir, "empty")
        rc, out = run_python(self.PREFIX_CODE % prefix, {"AIGW_LIBRARY": "", "LD_LIBRARY_PATH": ""})
        if rc == 0:
            self.skipTest("libaigw is installed system-wide (%s)" % out.strip())
        self.assertIn("ImportError", out)
        self.assertIn("libaigw", out)
        self.assertIn(os.path.join(prefix, "lib", "libaigw.so.0"), out)
        self.assertIn("/usr/local/lib/libaigw.so.0", out)
        self.assertIn("AIGW_LIBRARY", out)


class TestConfigDiscovery(unittest.TestCase):
    """Client() with no config reads what aigw-cli reads (cli/config.c)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aigw-py-cfg-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(self.home, ".config", "aigw"))
        self.home_config = os.path.join(self.home, ".config", "aigw", "config.json")

    def env(self, **values):
        patcher = mock.patch.dict(os.environ, values)
        patcher.start()
        self.addCleanup(patcher.stop)
        if "AIGW_CONFIG" not in values:
            os.environ.pop("AIGW_CONFIG", None)

    def write(self, path, backend):
        # A named mock backend: the config in use is seen in models().
        with open(path, "w") as f:
            json.dump({"backends": {backend: {"schema": "mock"}}}, f)

    def backends(self, client):
        return {m["id"].split("/")[0] for m in client.models()["data"]}

    def test_home_config(self):
        self.write(self.home_config, "fromhome")
        self.env(HOME=self.home)
        with aigw.Client() as client:
            self.assertEqual(client.config_file, self.home_config)
            self.assertIn("fromhome", self.backends(client))
            r = client.chat(model="fromhome/echo", messages=user("home"))
            self.assertEqual(r["choices"][0]["message"]["content"], "home")

    def test_aigw_config_wins(self):
        self.write(self.home_config, "fromhome")
        named = os.path.join(self.dir, "named.json")
        self.write(named, "fromenv")
        self.env(HOME=self.home, AIGW_CONFIG=named)
        with aigw.Client() as client:
            self.assertEqual(client.config_file, named)
            found = self.backends(client)
        self.assertIn("fromenv", found)
        self.assertNotIn("fromhome", found)

    def test_empty_aigw_config_is_unset(self):
        self.write(self.home_config, "fromhome")
        self.env(HOME=self.home, AIGW_CONFIG="")
        with aigw.Client() as client:
            self.assertEqual(client.config_file, self.home_config)

    def test_missing_aigw_config(self):
        missing = os.path.join(self.dir, "missing.json")
        self.env(HOME=self.home, AIGW_CONFIG=missing)
        with self.assertRaises(aigw.ConfigError) as cm:
            aigw.Client()
        self.assertIn(missing, cm.exception.message)
        self.assertIn("$AIGW_CONFIG", cm.exception.message)

    def test_aigw_config_directory(self):
        self.env(HOME=self.home, AIGW_CONFIG=self.dir)
        with self.assertRaises(aigw.ConfigError) as cm:
            aigw.AsyncClient()
        self.assertIn("is a directory", cm.exception.message)

    def test_no_file_environment_alone(self):
        self.env(HOME=self.home)
        with aigw.Client() as client:
            self.assertIsNone(client.config_file)
            self.assertIn("mock", self.backends(client))

    def test_invalid_home_config_is_reported(self):
        with open(self.home_config, "w") as f:
            f.write('{"backends": {"x": {"schema": "nope"}}}')
        self.env(HOME=self.home)
        with self.assertRaises(aigw.ConfigError):
            aigw.Client()

    def test_explicit_config_skips_discovery(self):
        self.write(self.home_config, "fromhome")
        self.env(HOME=self.home)
        path = os.path.join(self.dir, "given.json")
        self.write(path, "given")
        for config in (path, pathlib.Path(path)):
            with aigw.Client(config=config) as client:
                self.assertEqual(client.config_file, os.fspath(config))
                self.assertIn("given", self.backends(client))
        with aigw.Client(config={}) as client:  # the environment alone
            self.assertIsNone(client.config_file)
            self.assertNotIn("fromhome", self.backends(client))
        with aigw.Client(config=' {"backends": {"text": {"schema": "mock"}}}') as client:
            self.assertIn("text", self.backends(client))
        with self.assertRaises(TypeError):
            aigw.Client(config=42)


class TestTimeoutArgument(unittest.TestCase):
    def test_validation(self):
        for bad in (0, -1, float("nan"), float("inf")):
            with self.assertRaises(ValueError):
                aigw.Client(timeout=bad)
        for bad in ("1", True):
            with self.assertRaises(TypeError):
                aigw.Client(timeout=bad)
        with aigw.Client(timeout=2) as client:
            self.assertEqual(client.timeout, 2.0)
            r = client.chat(model="mock/echo", messages=user("in time"))
            self.assertEqual(r["choices"][0]["message"]["content"], "in time")


class TestStreamObject(unittest.TestCase):
    def test_context_manager_and_iterator(self):
        with aigw.Client() as client:
            with client.chat_stream(model="mock/echo", messages=user("a b c")) as stream:
                self.assertIs(iter(stream), stream)
                self.assertEqual(delta_text(stream), "a b c")
            self.assertTrue(stream.closed)
            with client.chat_stream(model="mock/echo", messages=user("never")) as unused:
                pass  # never iterated: nothing was sent
            self.assertTrue(unused.closed)
            self.assertEqual(client._active, 0)

    def test_break_then_close(self):
        words = " ".join("w%d" % i for i in range(300))
        with aigw.Client() as client:
            with client.chat_stream(model="mock/echo", messages=user(words)) as stream:
                for _ in stream:
                    break
            self.assertEqual(client._active, 0)
            with self.assertRaises(StopIteration):
                next(stream)


@unittest.skipUnless(HAVE_SIM, "AIGW_SIM_PATH not set (no simulator)")
class TestUpstream(unittest.TestCase):
    """Timeouts and stream closing, seen from the simulator's side."""

    def setUp(self):
        self.sim = Simulator(SIM_PATH)
        self.addCleanup(self.sim.stop)
        self.config = {"backends": {"sim": {"schema": "openai", "base_url": self.sim.base_url,
                                            "api_key": API_KEY}}}

    def client(self, **kw):
        c = aigw.Client(config=self.config, **kw)
        self.addCleanup(c.close)
        return c

    def test_timeout_bounds_a_chat(self):
        client = self.client(timeout=0.5)
        idle = self.sim.connections()
        t0 = time.monotonic()
        with self.assertRaises(aigw.APITimeoutError) as cm:
            client.chat(model="sim/gpt-4o-mini", messages=user("hi"), sim_fault="latency_ms=8000")
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 5.0)  # not the 8 s the upstream would take
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertEqual(cm.exception.status, aigw.Status.ETIMEOUT)
        self.assertIn("timeout", cm.exception.message)
        self.assertTrue(cm.exception.retryable)
        if idle is not None:  # the upstream connection was closed
            self.assertLessEqual(self.sim.wait_connections(idle), idle)
        r = client.chat(model="sim/gpt-4o-mini", messages=user("fast"))  # still usable
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: fast")

    def test_timeout_bounds_a_stream(self):
        client = self.client(timeout=1.0)
        words = " ".join("w%d" % i for i in range(30))
        got = []
        t0 = time.monotonic()
        with self.assertRaises(aigw.APITimeoutError):
            for chunk in client.chat_stream(model="sim/gpt-4o-mini", messages=user(words),
                                            sim_fault="event_ms=250"):
                got.append(chunk)
        self.assertLess(time.monotonic() - t0, 5.0)  # the whole stream: ~8 s
        self.assertGreater(len(got), 0)  # what arrived in time was delivered
        self.assertLess(len(got), 30)

    def test_timeout_bounds_a_call(self):
        client = self.client(timeout=0.5)
        with self.assertRaises(aigw.APITimeoutError) as cm:
            client.call("chat", {"model": "sim/gpt-4o-mini", "messages": user("hi"),
                                 "sim_fault": "latency_ms=8000"})
        self.assertIsInstance(cm.exception.info, dict)
        self.assertEqual(cm.exception.info["backend"], "sim")

    def test_no_timeout_waits(self):
        client = self.client()
        r = client.chat(model="sim/gpt-4o-mini", messages=user("slow"), sim_fault="latency_ms=700")
        self.assertEqual(r["choices"][0]["message"]["content"], "echo: slow")

    def test_leaving_the_with_block_cancels_upstream(self):
        client = self.client()
        idle = self.sim.connections()
        words = " ".join("w%d" % i for i in range(40))  # 40 x 250 ms = 10 s of stream
        t0 = time.monotonic()
        with client.chat_stream(model="sim/gpt-4o-mini", messages=user(words),
                                sim_fault="event_ms=250") as stream:
            first = next(stream)
            self.assertEqual(first["object"], "chat.completion.chunk")
            if idle is not None:
                self.assertGreater(self.sim.connections(), idle)  # the stream's connection
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(client._active, 0)
        if idle is not None:
            self.assertLessEqual(self.sim.wait_connections(idle), idle)

    def test_close_cancels_a_stalled_stream_at_once(self):
        # The upstream sends nothing for 8 s: closing must not wait for a chunk.
        import threading

        client = self.client()
        stream = client.chat_stream(model="sim/gpt-4o-mini", messages=user("x"),
                                    sim_fault="latency_ms=8000")
        errors = []

        def consume():
            try:
                list(stream)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=consume)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        stream.close()
        t.join(5)
        self.assertFalse(t.is_alive())
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assertEqual(errors, [])  # a closed stream just ends
        self.assertEqual(client._active, 0)


if __name__ == "__main__":
    unittest.main()
