// SPDX-License-Identifier: MIT
//
// header_cxx.cpp - rnn.h compiles alone as C++11 with -Wall -Wextra -pedantic
// -Werror (and more, see tests/CMakeLists.txt), and a C++ program links with
// librnn: a missing extern "C" would turn every call into an undefined,
// mangled symbol here.
#include "rnn.h"

#include <cstdio>
#include <cstring>

static_assert(RNN_OK == 0 && RNN_E_STATE == 8, "rnn_status values changed");
static_assert(sizeof(rnn_config) >= sizeof(size_t), "rnn_config lost struct_size");

int main()
{
    rnn_config cfg = rnn_config_default(3, 5);
    rnn_t *model = nullptr;
    if (rnn_create(&model, &cfg) != RNN_OK) {
        std::fprintf(stderr, "FAIL: rnn_create: %s\n", rnn_last_error());
        return 1;
    }
    float x[2 * 1 * 3] = {0.5f, -1.0f, 0.25f, 1.0f, 0.0f, -0.5f};
    float y[2 * 1 * 5];
    rnn_status st = rnn_forward(model, 2, 1, x, nullptr, nullptr, y, nullptr);
    rnn_destroy(model);
    if (st != RNN_OK) {
        std::fprintf(stderr, "FAIL: rnn_forward: %s\n", rnn_strerror(st));
        return 1;
    }
    if (rnn_version_number() != RNN_VERSION_NUMBER) {
        std::fprintf(stderr, "FAIL: header/library version mismatch: %s\n", rnn_version());
        return 1;
    }
    std::printf("header_cxx: rnn.h compiles as C++11; library %s\n", rnn_version());
    return 0;
}
