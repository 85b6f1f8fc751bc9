/* SPDX-License-Identifier: Apache-2.0 */
/* An asynchronous consumer of the installed headers and library, in C++17
 * (-std=c++17 -pedantic -Werror -Wall -Wextra): both public entry headers
 * must be C++-clean. Runs a chat and a stream on mock/echo on one uv loop,
 * then releases the loop as async.h says. */
#include <aigw/aigw.h>
#include <aigw/async.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

struct outcome {
    aigw_status chat = AIGW_EINVAL;
    std::string chat_text;
    aigw_status stream = AIGW_EINVAL;
    std::string streamed;
    int done = 0;
};

void on_chat_done(aigw_status status, const char *response_json, const aigw_error *err,
                  void *user) {
    auto *o = static_cast<outcome *>(user);
    o->chat = status;
    char *text = nullptr;
    if (status == AIGW_OK && aigw_chat_response_text(response_json, &text) == AIGW_OK)
        o->chat_text = text;
    else if (status != AIGW_OK)
        std::fprintf(stderr, "chat: %s\n", aigw_error_message(err));
    aigw_free(text);
    o->done++;
}

int on_chunk(const char *chunk_json, size_t, void *user) {
    char *text = nullptr;
    if (aigw_chat_response_text(chunk_json, &text) == AIGW_OK)
        static_cast<outcome *>(user)->streamed += text;
    aigw_free(text);
    return 0;
}

void on_stream_done(aigw_status status, const char *, const aigw_error *err, void *user) {
    auto *o = static_cast<outcome *>(user);
    o->stream = status;
    if (status != AIGW_OK)
        std::fprintf(stderr, "stream: %s\n", aigw_error_message(err));
    o->done++;
}

} // namespace

int main() {
    const char *request =
        R"({"model":"mock/echo","messages":[{"role":"user","content":"async from C++"}]})";
    aigw_client *client = nullptr;
    aigw_error *err = nullptr;
    aigw_request *req = nullptr;
    outcome o;
    uv_loop_t loop;

    if (uv_loop_init(&loop) != 0 || aigw_client_new_from_env(&client, &err) != AIGW_OK ||
        aigw_chat_async(client, &loop, request, on_chat_done, &o, &req, &err) != AIGW_OK ||
        aigw_chat_stream_async(client, &loop, request, on_chunk, on_stream_done, &o, nullptr,
                               &err) != AIGW_OK) {
        std::fprintf(stderr, "start: %s\n", aigw_error_message(err));
        aigw_error_free(err);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    aigw_loop_release(client, &loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    int closed = uv_loop_close(&loop);
    aigw_client_free(client);

    bool good = o.done == 2 && o.chat == AIGW_OK && o.chat_text == "async from C++" &&
                o.stream == AIGW_OK && o.streamed.find("async") != std::string::npos &&
                std::strcmp(aigw_version_string(), AIGW_VERSION_STRING) == 0 && closed == 0;
    if (good)
        std::printf("installed libaigw %s works from C++ on a uv loop\n", aigw_version_string());
    else
        std::printf("unexpected: chat %s \"%s\", stream %s \"%s\", loop close %d\n",
                    aigw_status_name(o.chat), o.chat_text.c_str(), aigw_status_name(o.stream),
                    o.streamed.c_str(), closed);
    return good ? 0 : 1;
}
