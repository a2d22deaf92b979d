/* SPDX-License-Identifier: MIT
 *
 * versioned.c - reading and writing the public structs that start with
 * struct_size (rnn_config, rnn_optim_config, rnn_tensor_info,
 * rnn_allocator), so that a program built against any released header
 * works with this library, and a program built against a newer header
 * works as long as it leaves the fields this library does not know at 0.
 * The rule is stated in rnn.h ("Versioned structs") and docs/api.md.
 */
#include "internal.h"
#include "released.h"

#include <string.h>

RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, input_size);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, hidden_size);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, num_layers);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, bidirectional);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, nonlinearity);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, bias);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, batch_first);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, output_size);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, head_mode);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, reserved);
RNN__SAME_OFFSET(rnn_config, rnn__config_0_1, seed);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, kind);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, nesterov);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, lr);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, momentum);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, dampening);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, weight_decay);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, beta1);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, beta2);
RNN__SAME_OFFSET(rnn_optim_config, rnn__optim_config_0_1, eps);
RNN__SAME_OFFSET(rnn_tensor_info, rnn__tensor_info_0_1, name);
RNN__SAME_OFFSET(rnn_tensor_info, rnn__tensor_info_0_1, offset);
RNN__SAME_OFFSET(rnn_tensor_info, rnn__tensor_info_0_1, count);
RNN__SAME_OFFSET(rnn_tensor_info, rnn__tensor_info_0_1, ndim);
RNN__SAME_OFFSET(rnn_tensor_info, rnn__tensor_info_0_1, shape);
RNN__SAME_OFFSET(rnn_allocator, rnn__allocator_0_1, malloc_fn);
RNN__SAME_OFFSET(rnn_allocator, rnn__allocator_0_1, free_fn);
RNN__SAME_OFFSET(rnn_allocator, rnn__allocator_0_1, user);

static const size_t config_sizes[] = {sizeof(rnn__config_0_1)};
static const size_t optim_config_sizes[] = {sizeof(rnn__optim_config_0_1)};
static const size_t tensor_info_sizes[] = {sizeof(rnn__tensor_info_0_1)};
static const size_t allocator_sizes[] = {sizeof(rnn__allocator_0_1)};

#define LAYOUT(type, sizes)                                                    \
    {#type, sizeof(type), sizes, sizeof sizes / sizeof sizes[0]}

const rnn__layout rnn__config_layout = LAYOUT(rnn_config, config_sizes);
const rnn__layout rnn__optim_config_layout =
    LAYOUT(rnn_optim_config, optim_config_sizes);
const rnn__layout rnn__tensor_info_layout =
    LAYOUT(rnn_tensor_info, tensor_info_sizes);
const rnn__layout rnn__allocator_layout = LAYOUT(rnn_allocator, allocator_sizes);

static bool is_released_size(const rnn__layout *layout, size_t size)
{
    if (size == layout->current)
        return true;
    for (size_t i = 0; i < layout->num_released; ++i)
        if (layout->released[i] == size)
            return true;
    return false;
}

static bool all_zero(const unsigned char *bytes, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        if (bytes[i] != 0)
            return false;
    return true;
}

rnn_status rnn__struct_check_size(size_t struct_size, const rnn__layout *layout,
                                  const char *arg, const char *func)
{
    if (struct_size > layout->current || is_released_size(layout, struct_size))
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, func,
                     "%s->struct_size is %zu, not the size of any %s layout "
                     "(this library's is %zu): set it to sizeof(%s), or start "
                     "from the %s initialiser",
                     arg, struct_size, layout->name, layout->current,
                     layout->name, layout->name);
}

rnn_status rnn__struct_read(void *full, const void *caller,
                            const rnn__layout *layout, const char *arg,
                            const char *func)
{
    size_t struct_size;
    memcpy(&struct_size, caller, sizeof struct_size);
    rnn_status status = rnn__struct_check_size(struct_size, layout, arg, func);
    if (status != RNN_OK)
        return status;
    if (struct_size > layout->current &&
        !all_zero((const unsigned char *)caller + layout->current,
                  struct_size - layout->current))
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "%s sets fields this library (%s, %s of %zu bytes) "
                         "does not know: its struct_size is %zu; a newer "
                         "librnn is needed",
                         arg, rnn_version(), layout->name, layout->current,
                         struct_size);
    const size_t known =
        struct_size < layout->current ? struct_size : layout->current;
    memcpy(full, caller, known);
    memcpy(full, &layout->current, sizeof layout->current);
    return RNN_OK;
}

void rnn__struct_write(void *caller, size_t struct_size, const void *full,
                       const rnn__layout *layout)
{
    unsigned char *out = caller;
    if (struct_size <= layout->current) {
        memcpy(out, full, struct_size);
    } else {
        memcpy(out, full, layout->current);
        memset(out + layout->current, 0, struct_size - layout->current);
    }
    memcpy(out, &struct_size, sizeof struct_size);
}
