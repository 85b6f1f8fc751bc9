-- SPDX-License-Identifier: Apache-2.0
-- wrk script: one small non-streamed chat completion per request.
-- The same request goes to the simulator directly, to `aigw-cli serve` and
-- to nginx; the bare model name is served by serve's default backend "sim".
-- The key is sent everywhere (the simulator runs without --api-key and
-- ignores it; nginx passes it on), so each request carries the same bytes.
local key = os.getenv("AIGW_BENCH_KEY") or "sk-aigw-bench"

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"gpt-4o-mini","messages":[' ..
           '{"role":"system","content":"You are terse."},' ..
           '{"role":"user","content":"Say hello to the benchmark"}],' ..
           '"max_completion_tokens":16,"temperature":0}'

-- No response() callback: defining one makes wrk buffer and hand every
-- body to Lua, which costs wrk CPU on a 2-core machine. run.sh checks each
-- target's answer with curl first; wrk itself counts non-2xx answers and
-- socket errors, and run.sh fails the row if there are any.
