/* SPDX-License-Identifier: Apache-2.0 */
/* libaigw — an AI gateway you can link. Include this one header. */
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
#include "async.h"
#include "serve.h"

#endif
