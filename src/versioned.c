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

/* The bytes of a layout that hold fields: a caller's trailing padding may
 * hold anything (struct assignment need not copy it), so it is never read,
 * and a newer field may sit where an older layout had padding. */
#define FIELDS_END(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#define RELEASED(type, last) {sizeof(type), FIELDS_END(type, last)}

#ifdef RNN_TEST_GROWTH
#define CURRENT(type, last) {sizeof(type), FIELDS_END(type, test_growth)}
#else
#define CURRENT(type, last) {sizeof(type), FIELDS_END(type, last)}
#endif

static const rnn__layout_size config_0_1[] = {
    RELEASED(rnn__config_0_1, seed)};
static const rnn__layout_size optim_config_0_1[] = {
    RELEASED(rnn__optim_config_0_1, eps)};
static const rnn__layout_size tensor_info_0_1[] = {
    RELEASED(rnn__tensor_info_0_1, shape)};
static const rnn__layout_size allocator_0_1[] = {
    RELEASED(rnn__allocator_0_1, user)};

#define LAYOUT(type, last, released)                                           \
    {#type, CURRENT(type, last), released,                                     \
     sizeof released / sizeof released[0]}

/* Fields added since a release must change sizeof (released.h says why):
 * the last field named here and in LAYOUT below move together. */
#define GROWS_IN_SIZE(now, now_last, old, old_last)                            \
    _Static_assert(FIELDS_END(now, now_last) == FIELDS_END(old, old_last) ||  \
                       sizeof(now) != sizeof(old),                             \
                   #now ": fields added within the old padding; add a "       \
                   "reserved field so that sizeof changes")
GROWS_IN_SIZE(rnn_config, padding_idx, rnn__config_0_1, seed);
GROWS_IN_SIZE(rnn_optim_config, reserved, rnn__optim_config_0_1, eps);
GROWS_IN_SIZE(rnn_tensor_info, shape, rnn__tensor_info_0_1, shape);
GROWS_IN_SIZE(rnn_allocator, user, rnn__allocator_0_1, user);

const rnn__layout rnn__config_layout =
    LAYOUT(rnn_config, padding_idx, config_0_1);
const rnn__layout rnn__optim_config_layout =
    LAYOUT(rnn_optim_config, reserved, optim_config_0_1);
const rnn__layout rnn__tensor_info_layout =
    LAYOUT(rnn_tensor_info, shape, tensor_info_0_1);
const rnn__layout rnn__allocator_layout =
    LAYOUT(rnn_allocator, user, allocator_0_1);
/* Structs first released in 0.2.0: no older layout. */
const rnn__layout rnn__forward_args_layout = {
    "rnn_forward_args", CURRENT(rnn_forward_args, reserved), NULL, 0};
const rnn__layout rnn__backward_args_layout = {
    "rnn_backward_args", CURRENT(rnn_backward_args, dc0), NULL, 0};

/* The layout of a caller's struct_size, or NULL when no layout has it
 * (sizes past this library's are checked by the caller). */
static const rnn__layout_size *layout_of(const rnn__layout *layout,
                                         size_t size)
{
    if (size == layout->current.size)
        return &layout->current;
    for (size_t i = 0; i < layout->num_released; ++i)
        if (layout->released[i].size == size)
            return &layout->released[i];
    return NULL;
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
    if (struct_size > layout->current.size ||
        layout_of(layout, struct_size) != NULL)
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, func,
                     "%s->struct_size is %zu, not the size of any %s layout "
                     "(this library's is %zu): set it to sizeof(%s), or start "
                     "from the %s initialiser",
                     arg, struct_size, layout->name, layout->current.size,
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
    const rnn__layout_size *known = layout_of(layout, struct_size);
    if (known == NULL) {
        known = &layout->current;
        if (!all_zero((const unsigned char *)caller + known->fields_end,
                      struct_size - known->fields_end))
            return rnn__fail(RNN_E_UNSUPPORTED, func,
                             "%s sets fields this library (%s, %s of %zu "
                             "bytes) does not know: its struct_size is %zu; "
                             "a newer librnn is needed",
                             arg, rnn_version(), layout->name,
                             layout->current.size, struct_size);
    }
    memcpy(full, caller, known->fields_end);
    memcpy(full, &layout->current.size, sizeof layout->current.size);
    return RNN_OK;
}

void rnn__struct_write(void *caller, size_t struct_size, const void *full,
                       const rnn__layout *layout)
{
    unsigned char *out = caller;
    const size_t current = layout->current.size;
    if (struct_size <= current) {
        memcpy(out, full, struct_size);
    } else {
        memcpy(out, full, current);
        memset(out + current, 0, struct_size - current);
    }
    memcpy(out, &struct_size, sizeof struct_size);
}
