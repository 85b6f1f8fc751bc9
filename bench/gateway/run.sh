#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Gateway benchmark: `aigw-cli serve` against nginx, both in front of the
# provider simulator (aigw-sim, answering instantly), measured with wrk.
#
#   bench/gateway/run.sh [-b BUILD_DIR] [-d SECONDS] [-r RUNS] [-w WORKERS]
#                        [-c "1 64"] [-n STREAMS] [-e EVENT_MS] [-m MODES]
#                        [-B BASE_BUILD_DIR] [--no-wrk] [--no-slow] [--perf]
#
#   -b  build directory with aigw-cli and aigw-sim (default: build)
#   -B  also measure the aigw-cli serve of another build (target "base",
#       e.g. a build of the previous commit) in the same run, for
#       before/after ratios on a noisy machine
#   -d  seconds per wrk measurement (default 10)
#   -r  runs (default 3); each run measures every target in turn, so the
#       machine's noise lands on all of them alike
#   -w  serve workers = nginx worker_processes (default: nproc)
#   -c  wrk connection counts (default "1 64")
#   -m  request kinds: "chat stream" (default), chat = JSON, stream = SSE
#   -t  targets (default "direct serve nginx"; e.g. "direct nginx")
#   -n  concurrent slow streams for the memory figure (default 1000)
#   -e  ms between the simulator's events in those streams (default 500)
#   --perf  also record serve with `perf record -g` during the first
#           many-connection measurement of each kind and print the top
#           symbols (that measurement runs slower under perf)
#
# For each run and kind, at each connection count: (a) the simulator
# directly, (b) serve in front of it, (c) nginx proxy_pass in front of it:
# requests/s, p50 and p99 latency (wrk --latency). Then serve/nginx
# throughput and serve p50 - direct p50 at 1 connection. Then RSS of serve
# (VmRSS, /proc/PID/status) idle and with N slow streams in flight, and the
# KB per in-flight stream (the same for nginx, for reference).
#
# Everything runs on 127.0.0.1; everything started here is stopped at exit
# (trap; and by a parent-death signal if the script is killed outright),
# and a watchdog ends the script if it overruns its time budget.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build"
duration=10
runs=3
workers=$(nproc)
conns="1 64"
targets="direct serve nginx"
modes="chat stream"
streams=1000
event_ms=500
do_wrk=1
do_slow=1
do_perf=0
base=
while [ $# -gt 0 ]; do
    case "$1" in
    -b) build=$(cd "$2" && pwd); shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    -w) workers=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    -m) modes=$2; shift 2 ;;
    -t) targets=$2; shift 2 ;;
    -B) base=$(cd "$2" && pwd); shift 2 ;;
    -n) streams=$2; shift 2 ;;
    -e) event_ms=$2; shift 2 ;;
    --no-wrk) do_wrk=0; shift ;;
    --no-slow) do_slow=0; shift ;;
    --perf) do_perf=1; shift ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

cli="$build/cli/aigw-cli"
sim="$build/tests/upstream/aigw-sim"

# ---- prerequisites --------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v cc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists libuv 2>/dev/null || missing+=(libuv1-dev)
command -v ss >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: missing: ${missing[*]}" >&2
    echo "install with:  apt-get install -y ${missing[*]}" >&2
    exit 2
fi
if [ "$do_perf" = 1 ] && ! command -v perf >/dev/null; then
    echo "run.sh: --perf needs perf:  apt-get install -y linux-perf" >&2
    exit 2
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
for f in "$cli" "$sim"; do
    [ -x "$f" ] || { echo "run.sh: $f not built (cmake --build $build)" >&2; exit 2; }
done
if [ -n "$base" ]; then
    [ -x "$base/cli/aigw-cli" ] || { echo "run.sh: $base/cli/aigw-cli not built" >&2; exit 2; }
    case " $targets " in *" base "*) ;; *) targets="$targets base" ;; esac
fi

# 1,000 streams through a proxy: 2 sockets each, plus the clients'.
need_fds=$((streams * 3 + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
    ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
        echo "run.sh: ulimit -n is $(ulimit -n), $need_fds needed for $streams streams (raise the hard limit)" >&2
        exit 2
    fi
fi

# ---- cleanup and time bound -----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aigw-bench-gw.XXXXXX")
pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    pids=()
}
cleanup() {
    trap - EXIT INT TERM
    [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null || true
    stop_all
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

n_modes=$(wc -w <<<"$modes")
n_conns=$(wc -w <<<"$conns")
budget=$((runs * (n_modes * n_conns * $(wc -w <<<"$targets") * (duration + 4) + (do_slow * 2 * (event_ms * 40 / 1000 + 40))) + 120))
[ "$do_wrk" = 0 ] && budget=$((runs * (do_slow * 2 * (event_ms * 40 / 1000 + 40)) + 120))
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$budget" & sp=$!
    wait "$sp"
    echo "run.sh: over the time budget of ${budget}s, stopping" >&2
    kill -TERM $$
) &
watchdog=$!
sim_seconds=$((budget + 60))

free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
    done
    echo "run.sh: no free port" >&2
    return 1
}

wait_http() { # URL [PATH-ONLY-CHECK]: wait up to 10 s for a 200
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

cpu_ticks() { # utime + stime of a process (all its threads) and its children
    local total=0 p
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
        total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
clk_tck=$(getconf CLK_TCK)
# Servers started here also die with the script if it is killed outright
# (SIGKILL skips the trap): setpriv execs them with a parent-death signal.
bound=()
command -v setpriv >/dev/null && bound=(setpriv --pdeathsig TERM --)
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
tree_rss_kb() { # a process and its children (nginx master + workers)
    local total=0 p
    for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do total=$((total + $(rss_kb "$p"))); done
    echo "$total"
}

# ---- the simulator -------------------------------------------------------
"${bound[@]}" "$sim" --port 0 --max-seconds "$sim_seconds" >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 100); do grep -q '^listening on' "$tmp/sim.out" 2>/dev/null && break; sleep 0.05; done
sim_addr=$(sed -n 's/^listening on //p' "$tmp/sim.out")
[ -n "$sim_addr" ] || { echo "run.sh: aigw-sim did not start" >&2; cat "$tmp/sim.err" >&2; exit 1; }
sim_port=${sim_addr##*:}

# ---- nginx ----------------------------------------------------------------
nginx_port=$(free_port)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
cat >"$tmp/nginx/nginx.conf" <<EOF
# generated by bench/gateway/run.sh
$user_line
daemon off;
master_process on;
worker_processes $workers;
worker_rlimit_nofile $need_fds;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections $need_fds; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;
    keepalive_requests 1000000;
    upstream sim {
        server 127.0.0.1:$sim_port;
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$nginx_port reuseport;
        location / {
            proxy_pass http://sim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }
    }
}
EOF
nginx_pid=
start_nginx() {
    "${bound[@]}" "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
        >"$tmp/nginx/stdout" 2>&1 &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_http "http://127.0.0.1:$nginx_port/v1/models" ||
        { echo "run.sh: nginx did not come up" >&2; cat "$tmp/nginx/logs/error.log" >&2; exit 1; }
}
stop_nginx() { # TERM = fast shutdown; the master waits for its workers
    kill -TERM "$nginx_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
}

# ---- serve ------------------------------------------------------------------
key="sk-aigw-bench-$RANDOM$RANDOM"
export AIGW_BENCH_KEY="$key"
key_sha=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
serve_port=
serve_pid=
base_pid=
declare -A url
start_serve() { # [base]: the base build's serve instead
    local which=${1:-serve} bin=$cli port
    [ "$which" = base ] && bin=$base/cli/aigw-cli
    port=$(free_port)
    url[$which]="http://127.0.0.1:$port"
    # serve routes every request and accounts it in a per-team budget
    # (in memory, never exhausted), as a real gateway would; a base build
    # from before routes and budgets existed (-B) runs without them.
    local policy='  "routes": [ { "name": "bench", "match": { "model": "gpt-*" },
                "backends": [ { "backend": "sim" } ] } ],
  "budgets": [ { "name": "per-team", "scope": { "team": "*" },
                 "cost": "input_tokens + 4*output_tokens",
                 "limit": { "type": "token_bucket", "capacity": 9000000000,
                            "refill_per_second": 9000000000 } } ],'
    [ "$which" = base ] && [ "${BENCH_BASE_POLICY:-0}" = 0 ] && policy=
    cat >"$tmp/$which.json" <<EOF
{
  "env_defaults": false,
  "default_backend": "sim",
  "backends": {
    "sim": { "schema": "openai", "base_url": "http://127.0.0.1:$sim_port/v1" }
  },
$policy
  "gateway": {
    "listen": "127.0.0.1:$port",
    "workers": $workers,
    "keys": [ { "sha256": "$key_sha", "name": "bench", "team": "bench" } ]
  }
}
EOF
    if [ "$which" = base ]; then
        # the base build's own libaigw (LD_LIBRARY_PATH beats the RUNPATH)
        LD_LIBRARY_PATH="$base${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "${bound[@]}" "$bin" serve --config "$tmp/$which.json" --listen "127.0.0.1:$port" \
            --workers "$workers" >"$tmp/$which.out" 2>"$tmp/$which.err" &
        base_pid=$!
        pids+=("$base_pid")
    else
        "${bound[@]}" "$bin" serve --config "$tmp/$which.json" --listen "127.0.0.1:$port" \
            --workers "$workers" >"$tmp/$which.out" 2>"$tmp/$which.err" &
        serve_pid=$!
        serve_port=$port
        pids+=("$serve_pid")
    fi
    if ! wait_http "${url[$which]}/healthz"; then
        echo "run.sh: aigw-cli serve ($which) did not come up" >&2
        cat "$tmp/$which.err" >&2
        exit 1
    fi
}
stop_serve() {
    kill -TERM "$serve_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
}
has_serve=0
case " $targets " in *" serve "*) has_serve=1; start_serve ;; esac
case " $targets " in *" base "*) start_serve base ;; esac

start_nginx

url[direct]="http://127.0.0.1:$sim_port"
url[nginx]="http://127.0.0.1:$nginx_port"

# Each target must answer the benchmark's requests correctly first.
check_target() { # NAME
    local body
    body=$(curl -s --max-time 5 "${url[$1]}/v1/chat/completions" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the benchmark"}]}')
    grep -q '"echo: Say hello to the benchmark"' <<<"$body" ||
        { echo "run.sh: $1: unexpected chat answer: $body" >&2; return 1; }
    body=$(curl -s -N --max-time 5 "${url[$1]}/v1/chat/completions" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark"}]}')
    grep -q '^data: \[DONE\]' <<<"$body" ||
        { echo "run.sh: $1: unexpected stream answer: $body" >&2; return 1; }
}
for t in $targets; do check_target "$t"; done
if [ $has_serve = 1 ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "${url[serve]}/v1/chat/completions" \
        -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' -d '{}')
    [ "$code" = 401 ] || { echo "run.sh: serve answered $code to a wrong key, expected 401" >&2; exit 1; }
fi

echo "# machine: $(nproc) cpus, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
    "$(awk '/^MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo);" \
    "$(. /etc/os-release && echo "$PRETTY_NAME"); $(uname -r)"
echo "# $("$nginx_bin" -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $("$cli" --version 2>&1 | head -1)"
echo "# workers: $workers (serve and nginx); wrk ${duration}s per cell; runs: $runs"

# ---- wrk ----------------------------------------------------------------
to_us() { # 123.45us / 1.23ms / 1.02s -> microseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.1f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.1f", v * 1000 }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.1f", v * 60e6 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.1f", v * 1e6 }
        else print "nan" }'
}
results="$tmp/results.tsv"
: >"$results"
measure() { # RUN MODE CONNS TARGET
    local run=$1 mode=$2 c=$3 target=$4 threads=1 out rps p50 p99 errs pid t0 t1 n cpu
    [ "$c" -ge 2 ] && threads=2
    out="$tmp/wrk-$run-$mode-$c-$target.txt"
    case $target in direct) pid=$sim_pid ;; serve) pid=$serve_pid ;; base) pid=$base_pid ;; nginx) pid=$nginx_pid ;; esac
    t0=$(cpu_ticks "$pid")
    timeout -k 5 $((duration + 30)) wrk -t "$threads" -c "$c" -d "${duration}s" --timeout 10s --latency \
        -s "$here/$mode.lua" "${url[$target]}" >"$out" 2>&1 || true
    t1=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    n=$(awk '/ requests in / {print $1}' "$out")
    # CPU time of the server measured (the simulator for direct, the proxy
    # alone otherwise) per request, in microseconds
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$clk_tck" 'BEGIN { printf("%.1f", (n > 0) ? (b - a) / hz * 1e6 / n : 0) }')
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
    errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
    if [ -z "$rps" ]; then
        echo "run.sh: wrk failed for $target:" >&2
        cat "$out" >&2
        rps=0 p50=nan p99=nan errs=-1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$mode" "$c" "$target" "$rps" "$p50" "$p99" "$errs" "$cpu" >>"$results"
    printf '  run %s %-6s c=%-3s %-6s %10.0f req/s  p50 %8s us  p99 %8s us  cpu %6s us/req  errors %s\n' \
        "$run" "$mode" "$c" "$target" "$rps" "$p50" "$p99" "$cpu" "$errs" >&2
}

perf_done=0
if [ "$do_wrk" = 1 ]; then
    for run in $(seq "$runs"); do
        for mode in $modes; do
            for c in $conns; do
                for target in $targets; do
                    if [ "$do_perf" = 1 ] && [ "$run" = 1 ] && [ "$target" = serve ] &&
                        [ "$c" -ge 2 ] && [ ! -e "$tmp/perf-$mode.data" ]; then
                        perf record -F 999 -g -p "$serve_pid" -o "$tmp/perf-$mode.data" \
                            >"$tmp/perf.out" 2>&1 &
                        perf_pid=$!
                        measure "$run" "$mode" "$c" "$target"
                        kill -INT "$perf_pid" 2>/dev/null || true
                        wait "$perf_pid" 2>/dev/null || true
                        perf_done=1
                    else
                        measure "$run" "$mode" "$c" "$target"
                    fi
                done
            done
        done
    done

    echo
    echo "| run | kind | conns | direct req/s | serve req/s | nginx req/s | direct p50/p99 µs | serve p50/p99 µs | nginx p50/p99 µs | CPU µs/req sim / serve / nginx | serve/nginx req/s | serve p50 − direct p50 µs |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    awk -F'\t' '
        { k = $1 SUBSEP $2 SUBSEP $3; rps[k, $4] = $5; p50[k, $4] = $6; p99[k, $4] = $7; cpu[k, $4] = $9
          if ($8 != 0) bad[k, $4] = $8
          if (!(k in seen)) { seen[k] = 1; order[n++] = k } }
        END {
          for (i = 0; i < n; i++) {
            k = order[i]; split(k, f, SUBSEP)
            line = sprintf("| %s | %s | %s |", f[1], f[2] == "chat" ? "JSON" : "SSE", f[3])
            for (t = 0; t < 3; t++) { tg = t == 0 ? "direct" : t == 1 ? "serve" : "nginx"
              line = line sprintf(" %.0f%s |", rps[k, tg], (k SUBSEP tg) in bad ? " (" bad[k, tg] " errors)" : "") }
            for (t = 0; t < 3; t++) { tg = t == 0 ? "direct" : t == 1 ? "serve" : "nginx"
              line = line sprintf(" %.0f / %.0f |", p50[k, tg], p99[k, tg]) }
            line = line sprintf(" %.0f / %.0f / %.0f |", cpu[k, "direct"], cpu[k, "serve"], cpu[k, "nginx"])
            line = line sprintf(" %.2f |", rps[k, "nginx"] > 0 ? rps[k, "serve"] / rps[k, "nginx"] : 0)
            line = line (f[3] == 1 ? sprintf(" %.0f |", p50[k, "serve"] - p50[k, "direct"]) : " |")
            print line
          }
        }' "$results"

    if [ -n "$base" ]; then
        echo
        echo "Before/after: base = serve of $base, serve = serve of $build (same run):"
        echo
        echo "| run | kind | conns | base req/s | serve req/s | serve/base req/s | base p50/p99 µs | serve p50/p99 µs | CPU µs/req base / serve | base/nginx | serve/nginx |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        awk -F'\t' '
            { k = $1 SUBSEP $2 SUBSEP $3; rps[k, $4] = $5; p50[k, $4] = $6; p99[k, $4] = $7; cpu[k, $4] = $9
              if (!(k in seen)) { seen[k] = 1; order[n++] = k } }
            END {
              for (i = 0; i < n; i++) {
                k = order[i]; split(k, f, SUBSEP)
                printf("| %s | %s | %s | %.0f | %.0f | %.2f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.2f | %.2f |\n",
                  f[1], f[2] == "chat" ? "JSON" : "SSE", f[3], rps[k, "base"], rps[k, "serve"],
                  rps[k, "base"] > 0 ? rps[k, "serve"] / rps[k, "base"] : 0,
                  p50[k, "base"], p99[k, "base"], p50[k, "serve"], p99[k, "serve"],
                  cpu[k, "base"], cpu[k, "serve"],
                  rps[k, "nginx"] > 0 ? rps[k, "base"] / rps[k, "nginx"] : 0,
                  rps[k, "nginx"] > 0 ? rps[k, "serve"] / rps[k, "nginx"] : 0)
              }
            }' "$results"
    fi

    echo
    echo "Medians over the runs (targets: serve/nginx req/s >= 0.80; serve p50 - direct p50 at 1 connection < 50 µs):"
    for mode in $modes; do
        for c in $conns; do
            awk -F'\t' -v m="$mode" -v c="$c" '
                function median(a, n,   i, j, t) {
                    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
                $2 == m && $3 == c { r[$1, $4] = $5; p[$1, $4] = $6; runs[$1] = 1 }
                END {
                    for (run in runs) { n++; ratio[n] = r[run, "nginx"] > 0 ? r[run, "serve"] / r[run, "nginx"] : 0
                                        added[n] = p[run, "serve"] - p[run, "direct"]
                                        sn[n] = r[run, "serve"] / (r[run, "direct"] > 0 ? r[run, "direct"] : 1) }
                    mr = median(ratio, n); ma = median(added, n); ms = median(sn, n)
                    v1 = (mr >= 0.8) ? " (ok)" : " (MISSED)"; v2 = (ma < 50) ? " (ok)" : " (MISSED)"
                    printf("  %-6s c=%-3s serve/nginx req/s %.2f%s", (m == "chat") ? "JSON" : "SSE", c, mr, v1)
                    if (c == 1) printf(";  added p50 %.0f us%s", ma, v2)
                    printf(";  serve/direct req/s %.2f\n", ms)
                }' "$results"
        done
    done
    cp "$results" "${AIGW_BENCH_RESULTS:-/dev/null}" 2>/dev/null || true
fi

for mode in $modes; do
    [ -e "$tmp/perf-$mode.data" ] || continue
    echo
    echo "perf: serve during the first many-connection $mode measurement, top symbols (self):"
    perf report -i "$tmp/perf-$mode.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -30
    echo "by library:"
    perf report -i "$tmp/perf-$mode.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -10
done

# ---- memory per in-flight stream --------------------------------------------
if [ "$do_slow" = 1 ]; then
    cc -O2 -Wall -o "$tmp/slow_streams" "$here/slow_streams.c" $(pkg-config --cflags --libs libuv)
    words=30 # a stream lasts ~(words + 1) * event_ms
    slow() { # TARGET N [EVENT_MS]: runs slow_streams, prints "open" and "done" lines to $tmp/slow.out
        "${bound[@]}" "$tmp/slow_streams" -p "${url[$1]##*:}" -n "$2" -e "${3:-$event_ms}" -w "$words" -k "$key" \
            -t $((event_ms * (words + 2) / 1000 + 60)) >"$tmp/slow.out" 2>"$tmp/slow.err" &
        slow_pid=$!
        pids+=("$slow_pid")
    }
    # rss_during TARGET PID-FUNC: waits for all streams open, samples 5 times over ~2 s, prints the max
    rss_during() {
        local max=0 v
        for _ in $(seq $(((event_ms * (words + 2)) / 100 + 300))); do
            grep -q '^open' "$tmp/slow.out" 2>/dev/null && break
            kill -0 "$slow_pid" 2>/dev/null || break
            sleep 0.1
        done
        if ! grep -q '^open' "$tmp/slow.out"; then
            echo "run.sh: slow_streams never had all streams open:" >&2
            cat "$tmp/slow.err" >&2
            echo 0
            return
        fi
        for _ in 1 2 3 4 5; do
            v=$($1)
            [ "$v" -gt "$max" ] && max=$v
            sleep 0.4
        done
        echo "$max"
    }
    slow_wait() {
        wait "$slow_pid" 2>/dev/null || { echo "run.sh: slow_streams failed:" >&2; cat "$tmp/slow.err" >&2; }
    }
    serve_rss() { rss_kb "$serve_pid"; }
    nginx_rss() { tree_rss_kb "$nginx_pid"; }

    echo
    echo "Memory: $streams concurrent streams, one event every $event_ms ms ($((words + 1)) events each):"
    echo
    echo "| run | serve idle KB | serve with streams KB | serve KB/stream | nginx idle KB | nginx with streams KB | nginx KB/stream |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    base_rows=
    for run in $(seq "$runs"); do
        # a fresh serve (and nginx), warmed by a few streams so that
        # one-time allocations (curl multi, connection pools, buffers) are
        # in the idle figure
        s_idle=0 s_busy=0
        if [ $has_serve = 1 ]; then
            stop_serve
            start_serve
            slow serve 16 10; slow_wait
            sleep 0.5
            s_idle=$(serve_rss)
            slow serve "$streams"
            s_busy=$(rss_during serve_rss)
            slow_wait
        fi
        stop_nginx
        start_nginx
        slow nginx 16 10; slow_wait
        sleep 0.5
        n_idle=$(nginx_rss)
        slow nginx "$streams"
        n_busy=$(rss_during nginx_rss)
        slow_wait
        awk -v r="$run" -v si="$s_idle" -v sb="$s_busy" -v ni="$n_idle" -v nb="$n_busy" -v n="$streams" \
            'BEGIN { printf "| %s | %d | %d | %.1f | %d | %d | %.1f |\n", r, si, sb, (sb - si) / n, ni, nb, (nb - ni) / n }'
        if [ -n "$base" ]; then # the base build's serve, the same way
            kill -TERM "$base_pid" 2>/dev/null || true
            wait "$base_pid" 2>/dev/null || true
            start_serve base
            slow base 16 10; slow_wait
            sleep 0.5
            b_idle=$(rss_kb "$base_pid")
            slow base "$streams"
            b_busy=$(rss_during "rss_kb $base_pid")
            slow_wait
            base_rows+=$(awk -v r="$run" -v bi="$b_idle" -v bb="$b_busy" -v n="$streams" \
                'BEGIN { printf "| %s | %d | %d | %.1f |\\n", r, bi, bb, (bb - bi) / n }')
        fi
    done
    if [ -n "$base" ]; then
        echo
        echo "| run | base idle KB | base with streams KB | base KB/stream |"
        echo "| --- | --- | --- | --- |"
        printf '%b' "$base_rows"
    fi
    echo
    echo "(target: serve < 64 KB per in-flight stream; KB = 1024 bytes; RSS of the whole process:"
    echo " serve's workers are threads, nginx's figure is master + workers)"
fi
