-- SPDX-License-Identifier: Apache-2.0
-- wrk script: one small streamed (SSE) chat completion per request.
-- wrk reads the chunked text/event-stream response to its end, so each
-- request is timed from the first byte sent to `data: [DONE]` and the
-- chunk terminator. Six events: role + "echo:" and five words, [DONE]
-- (through serve also the usage chunk it asks for, which it does not
-- pass on unless the client asked).
local key = os.getenv("AIGW_BENCH_KEY") or "sk-aigw-bench"

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "text/event-stream"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"gpt-4o-mini","stream":true,"messages":[' ..
           '{"role":"system","content":"You are terse."},' ..
           '{"role":"user","content":"Say hello to the benchmark"}],' ..
           '"max_completion_tokens":16,"temperature":0}'

-- No response() callback: defining one makes wrk buffer and hand every
-- body to Lua, which costs wrk CPU on a 2-core machine. run.sh checks each
-- target's answer with curl first; wrk itself counts non-2xx answers and
-- socket errors, and run.sh fails the row if there are any.
