/* SPDX-License-Identifier: MIT
 *
 * program_0_1_0.c - a program written for, and compiled against, the
 * librnn 0.1.0 header (rnn_0_1_0.h, kept verbatim), run against the
 * library of this tree by ctest (compat_0_1_0, and compat_0_1_0_grown
 * against a build whose public structs have grown: cmake/RnnCompat.cmake).
 * It uses every versioned struct the way 0.1.0 code did: configs by value,
 * tensor infos and an allocator with the 0.1.0 struct_size. In the ASan
 * build any byte the library writes past a 0.1.0 struct is caught.
 */
#define _POSIX_C_SOURCE 200809L /* getpid */

#include "rnn_0_1_0.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s failed (last error: %s)\n", __FILE__,   \
                    __LINE__, #cond, rnn_last_error());                        \
            ++failures;                                                        \
        }                                                                      \
    } while (0)

#define CHECK_OK(call) CHECK((call) == RNN_OK)

enum { T = 6, B = 4, I = 3, H = 8 };

static size_t mallocs;

static void *counting_malloc(void *user, size_t size)
{
    (void)user;
    ++mallocs;
    return malloc(size);
}

static void counting_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

/* Sequences whose label is the sign of their sum. */
static void make_batch(float *x, float *labels, unsigned seed)
{
    for (int b = 0; b < B; ++b) {
        float sum = 0.0f;
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < I; ++i) {
                seed = seed * 1103515245u + 12345u;
                const float v = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
                x[(t * B + b) * I + i] = v;
                sum += v;
            }
        labels[b] = sum > 0.0f ? 1.0f : 0.0f;
    }
}

static float train(rnn_t *model, rnn_optim_t *optim, int steps)
{
    float x[T * B * I], labels[B], logits[B], dlogits[B], loss = NAN;
    for (int step = 0; step < steps; ++step) {
        make_batch(x, labels, 1u + (unsigned)step % 4u);
        CHECK_OK(rnn_zero_grad(model));
        CHECK_OK(rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL));
        CHECK_OK(rnn_head_forward(model, logits));
        CHECK_OK(rnn_loss_bce_with_logits(B, logits, labels, RNN_REDUCTION_MEAN,
                                          &loss, dlogits));
        CHECK_OK(rnn_head_backward(model, dlogits));
        CHECK_OK(rnn_backward(model, NULL, NULL, NULL, NULL));
        CHECK_OK(rnn_clip_grad_norm(model, 5.0f, NULL));
        CHECK_OK(rnn_optim_step(optim, model));
    }
    return loss;
}

static void check_tensors(const rnn_t *model)
{
    int32_t count = 0;
    CHECK_OK(rnn_tensor_count(model, &count));
    CHECK(count == 6);
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(rnn_tensor_find(model, "weight_hh_l0", &info));
    CHECK(info.ndim == 2 && info.shape[0] == H && info.shape[1] == H);
    CHECK(info.struct_size == sizeof info);
    CHECK_OK(rnn_tensor_at(model, count - 1, &info));
    CHECK(strcmp(info.name, "head.bias") == 0 && info.count == 1);
}

static void check_round_trip(rnn_t *model, rnn_optim_t *optim)
{
    /* ctest runs this program against two libraries at once, in one
     * directory: each run names its own files. */
    char path[64], opath[64];
    snprintf(path, sizeof path, "compat_0_1_0_%ld.safetensors", (long)getpid());
    snprintf(opath, sizeof opath, "compat_0_1_0_%ld_optim.safetensors",
             (long)getpid());
    CHECK_OK(rnn_save(model, path));
    CHECK_OK(rnn_optim_save(optim, opath));
    rnn_t *loaded = NULL;
    rnn_optim_t *loaded_optim = NULL;
    CHECK_OK(rnn_load(&loaded, path));
    CHECK_OK(rnn_optim_load(&loaded_optim, opath));
    if (loaded == NULL || loaded_optim == NULL)
        return;
    rnn_config a = rnn_config_default(1, 1), b = rnn_config_default(1, 1);
    CHECK_OK(rnn_get_config(model, &a));
    CHECK_OK(rnn_get_config(loaded, &b));
    CHECK(a.struct_size == sizeof a && b.struct_size == sizeof b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    float *p1, *p2;
    size_t n1, n2;
    CHECK_OK(rnn_params(model, &p1, &n1));
    CHECK_OK(rnn_params(loaded, &p2, &n2));
    CHECK(n1 == n2 && memcmp(p1, p2, n1 * sizeof(float)) == 0);
    /* resumed training continues exactly */
    train(model, optim, 2);
    train(loaded, loaded_optim, 2);
    CHECK(memcmp(p1, p2, n1 * sizeof(float)) == 0);
    rnn_optim_destroy(loaded_optim);
    rnn_destroy(loaded);
    remove(path);
    remove(opath);
}

static void check_streaming(rnn_t *model)
{
    float x[T * B * I], labels[B], y[T * B * H], y_t[B * H];
    make_batch(x, labels, 9u);
    CHECK_OK(rnn_forward(model, T, B, x, NULL, NULL, y, NULL));
    rnn_state_t *state = NULL;
    CHECK_OK(rnn_state_create(&state, model, B));
    CHECK_OK(rnn_pack_weights(model));
    for (int t = 0; t < T; ++t)
        CHECK_OK(rnn_step(model, state, x + t * B * I, y_t));
    for (int i = 0; i < B * H; ++i)
        CHECK(fabsf(y_t[i] - y[(T - 1) * B * H + i]) < 1e-5f);
    rnn_state_destroy(state);
}

int main(void)
{
    rnn_allocator alloc = {sizeof alloc, counting_malloc, counting_free, NULL};
    CHECK_OK(rnn_set_allocator(&alloc));

    rnn_config cfg = rnn_config_default(I, H);
    CHECK(cfg.struct_size == sizeof cfg);
    CHECK(cfg.num_layers == 1 && cfg.bias == 1 && cfg.reserved == 0);
    cfg.output_size = 1;
    cfg.seed = 3;
    rnn_t *model = NULL;
    CHECK_OK(rnn_create(&model, &cfg));
    rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.05f);
    CHECK(oc.struct_size == sizeof oc && oc.beta2 == 0.999f);
    rnn_optim_t *optim = NULL;
    if (model != NULL)
        CHECK_OK(rnn_optim_create(&optim, model, &oc));
    if (model == NULL || optim == NULL) {
        fprintf(stderr, "program_0_1_0: could not create the model\n");
        return 1;
    }
    CHECK(mallocs > 0);

    const float first = train(model, optim, 1);
    const float last = train(model, optim, 60);
    CHECK(last < first);
    check_tensors(model);
    check_round_trip(model, optim);
    check_streaming(model);

    rnn_optim_destroy(optim);
    rnn_destroy(model);
    CHECK_OK(rnn_set_allocator(NULL));
    if (failures != 0) {
        fprintf(stderr, "program_0_1_0: %d checks failed against librnn %s\n",
                failures, rnn_version());
        return 1;
    }
    printf("program_0_1_0: every check held against librnn %s (loss %.3f -> %.3f)\n",
           rnn_version(), (double)first, (double)last);
    return 0;
}
