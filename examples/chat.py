#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""chat.py — chat and streaming with libaigw from Python.

With libaigw and the package installed (see bindings/python/README.md):

    python3 -m venv .venv && cmake --install build --prefix .venv
    .venv/bin/pip install ./bindings/python
    .venv/bin/python examples/chat.py                 # offline: mock/echo
    .venv/bin/python examples/chat.py openai/gpt-4o-mini "Say hello in French"
    .venv/bin/python examples/chat.py mock/echo "stream these words" --stream

The client reads the config aigw-cli reads: the file named by $AIGW_CONFIG,
else ~/.config/aigw/config.json if it exists, else the environment alone
(OPENAI_API_KEY, ...); the built-in mock backend is always there.
"""

import sys

import aigw


def main(argv):
    stream = "--stream" in argv
    args = [a for a in argv if a != "--stream"]
    model = args[0] if args else "mock/echo"
    prompt = args[1] if len(args) > 1 else "Hello from Python!"
    messages = [{"role": "user", "content": prompt}]

    try:
        with aigw.Client(timeout=120) as client:
            if stream:
                # Chunks are OpenAI chat.completion.chunk dicts, as they arrive;
                # leaving the block early would cancel the request upstream.
                with client.chat_stream(model=model, messages=messages) as chunks:
                    for chunk in chunks:
                        for choice in chunk.get("choices", []):
                            print(choice.get("delta", {}).get("content") or "", end="",
                                  flush=True)
                print()
            else:
                response = client.chat(model=model, messages=messages, max_tokens=200)
                print(response["choices"][0]["message"]["content"])
                usage = response.get("usage")
                if usage:
                    print("[%(prompt_tokens)s prompt + %(completion_tokens)s completion tokens]"
                          % usage, file=sys.stderr)
    except aigw.RateLimitError as e:
        print("rate limited, try again later: %s" % e, file=sys.stderr)
        return 2
    except aigw.Error as e:
        # e.status_name, e.message, e.http_status, e.provider, e.body
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
