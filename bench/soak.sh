#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak test of `aigw-cli serve`: for SECONDS (default 60) clients on the
# loopback connect and go idle, abort mid-request, send big valid bodies
# and 32 MB hostile ones, while /healthz is polled; the server's RSS and
# open file descriptors are sampled every second. With wrk installed, wrk
# adds a steady load of small chat requests. Loopback only; it stops by
# itself and stops the server.
#
# Usage: bench/soak.sh [SECONDS]
# Environment: AIGW_CLI (default build/cli/aigw-cli), WORKERS (2),
#   OUT (samples CSV, default /tmp/aigw-soak.csv).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
case $secs in
'' | *[!0-9]*)
  echo "soak: SECONDS must be a whole number" >&2
  exit 2
  ;;
esac
cli=${AIGW_CLI:-$root/build/cli/aigw-cli}
workers=${WORKERS:-2}
out=${OUT:-/tmp/aigw-soak.csv}
[ -x "$cli" ] || {
  echo "soak: $cli not found (build first, or set AIGW_CLI)" >&2
  exit 2
}

tmp=$(mktemp -d)
cfg=$tmp/gw.json
echo '{"gateway": {"limits": {"max_connections_per_client": 256}}}' >"$cfg"
"$cli" serve --config "$cfg" --listen 127.0.0.1:0 --workers "$workers" >"$tmp/out" 2>"$tmp/err" &
spid=$!
cleanup() {
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do
  grep -q 'listening on port' "$tmp/out" 2>/dev/null && break
  sleep 0.1
done
port=$(sed -n 's/^listening on port \([0-9]*\).*/\1/p' "$tmp/out")
[ -n "$port" ] || {
  echo "soak: serve did not start:" >&2
  cat "$tmp/err" >&2
  exit 1
}
echo "soak: serve pid $spid on 127.0.0.1:$port, $workers workers, ${secs}s"

wrk_pid=
if command -v wrk >/dev/null; then
  wrk -t1 -c16 -d"${secs}s" -s "$root/bench/soak.lua" "http://127.0.0.1:$port" >"$tmp/wrk" 2>&1 &
  wrk_pid=$!
else
  echo "soak: wrk not installed: no steady load besides the soak clients"
fi

python3 - "$port" "$spid" "$secs" "$out" <<'EOF'
import os, socket, sys, threading, time

port, pid, secs, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
end = time.time() + secs
stop = threading.Event()
counts = {"idle": 0, "aborted": 0, "big": 0, "hostile": 0, "healthz": 0, "errors": 0}
lat = []
lock = threading.Lock()

def status():
    d = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, v = line.split(":", 1)
            d[k] = v.strip()
    return d

def kb(v):
    return int(v.split()[0])

def fds():
    return len(os.listdir(f"/proc/{pid}/fd"))

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s

def read_all(s):
    data = b""
    while True:
        try:
            c = s.recv(65536)
        except OSError:
            break
        if not c:
            break
        data += c
    return data

def post(body, close_early=False):
    s = conn()
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)).encode()
    try:
        s.sendall(head)
        if close_early:
            s.sendall(body[: len(body) // 3])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # a reset, mid-body
            return b""
        s.sendall(body)
    except OSError:
        pass
    r = read_all(s)
    s.close()
    return r

def count(k, n=1):
    with lock:
        counts[k] += n

small = b'{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}'
big = (b'{"model":"mock/echo","messages":[{"role":"user","content":"hi"}],"pad":["'
       + b'","'.join([b"p" * 1000] * 2000) + b'"]}')
ints = b'{"model":"x","messages":[],"junk":[' + b"1," * (16 * 1024 * 1024 - 40) + b"1]}"
deep = b"[" * (32 * 1024 * 1024)

def idle_clients():  # connect, say nothing, go after a while
    while not stop.is_set():
        socks = []
        for _ in range(50):
            try:
                socks.append(conn())
            except OSError:
                count("errors")
        count("idle", len(socks))
        time.sleep(2)
        for s in socks:
            s.close()

def aborters():
    while not stop.is_set():
        try:
            post(big, close_early=True)
            count("aborted")
        except OSError:
            count("errors")
        time.sleep(0.05)

def big_bodies():
    while not stop.is_set():
        try:
            r = post(big)
            count("big" if r.startswith(b"HTTP/1.1 200") else "errors")
        except OSError:
            count("errors")

def hostile():
    i = 0
    while not stop.is_set():
        try:
            r = post(ints if i % 2 == 0 else deep)
            count("hostile" if r[9:12] in (b"413", b"400") else "errors")
        except OSError:
            count("errors")
        i += 1

def healthz():
    while not stop.is_set():
        t = time.time()
        try:
            s = conn()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = read_all(s).startswith(b"HTTP/1.1 200")
            s.close()
            with lock:
                lat.append((time.time() - t) * 1e3)
            count("healthz" if ok else "errors")
        except OSError:
            count("errors")
        time.sleep(0.02)

base = status()
idle_rss, idle_fds = kb(base["VmRSS"]), fds()
threads = [threading.Thread(target=f, daemon=True)
           for f in (idle_clients, aborters, big_bodies, hostile, healthz)]
for t in threads:
    t.start()
samples = []
t0 = time.time()
with open(out, "w") as f:
    f.write("seconds,rss_kb,fds\n")
    while time.time() < end:
        st = status()
        row = (time.time() - t0, kb(st["VmRSS"]), fds())
        samples.append(row)
        f.write("%.1f,%d,%d\n" % row)
        time.sleep(1)
stop.set()
for t in threads:
    t.join(timeout=40)
time.sleep(3)  # lingering closes end, the trim runs
st = status()
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] if lat else float("nan")
print("soak: clients %s" % counts)
print("soak: RSS idle %d kB, peak (VmHWM) %s, max sampled %d kB, end %d kB"
      % (idle_rss, st["VmHWM"], max(r[1] for r in samples), kb(st["VmRSS"])))
print("soak: fds idle %d, max sampled %d, end %d" % (idle_fds, max(r[2] for r in samples), fds()))
print("soak: /healthz %d polls: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (len(lat), p(0.5), p(0.99), lat[-1] if lat else float("nan")))
print("soak: samples in %s" % out)
EOF

if [ -n "$wrk_pid" ]; then
  wait "$wrk_pid" || true
  echo "soak: wrk:"
  cat "$tmp/wrk"
fi
