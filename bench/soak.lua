-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/soak.sh: one small chat completion to the built-in
-- mock backend per request.
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"mock/echo","messages":[{"role":"user","content":"hi"}]}'
