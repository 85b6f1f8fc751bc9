/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — an AI gateway you can link. Include this one header for the
 * whole synchronous API; it needs only the C library's headers and compiles
 * under a strict -std=c11 -pedantic (and as C++).
 *
 * The asynchronous API on a libuv loop is opt-in, as hiredis keeps its
 * event-loop adapters apart: #include <aigw/async.h>, which includes
 * <uv.h> (link with pkg-config's aigw-async, or CMake's aigw::async). */
#ifndef AIGW_H
#define AIGW_H

#include "common.h"
/* Generated into the build tree (and installed beside the others), so it
 * is found through the include path, wherever it lives. */
#include "aigw/version.h"
#include "status.h"
#include "error.h"
#include "log.h"
#include "client.h"
#include "chat.h"
#include "call.h"
#include "build.h"
#include "serve.h"

#endif
