-- SPDX-License-Identifier: MIT
--
-- seed_sum_sign.lua - the seed task of librnn from LuaJIT, through its FFI.
--
--   luajit examples/lua/seed_sum_sign.lua [--lib PATH] [--epochs N] [--seed N]
--                                         [--min-accuracy F]
--
-- The same task and recipe as examples/seed_sum_sign.c run with --init pytorch:
-- sequences of 10 N(0, 1) values, label 1 when their sum is > 0; a one-layer
-- tanh RNN (hidden 32) with a one-logit head on the last step (librnn's
-- PyTorch initialisation, seeded through rnn_config.seed), binary
-- cross-entropy, SGD at lr 0.01 on one sequence at a time (rnn_optim_step),
-- 1000 training sequences shuffled each epoch, 10 epochs, accuracy on 1000
-- fresh sequences. Random numbers: SplitMix64 and Box-Muller like the C demo.
--
-- Only ffi.cdef's the part of rnn.h it calls. The structs are filled by the
-- pointer initialisers rnn_config_init / rnn_optim_config_init with
-- ffi.sizeof of the struct as declared here (the field list of librnn 0.1.0;
-- the library accepts every struct_size from 0.1.0 up), so no struct is passed
-- or returned by value.
--
-- The library: --lib PATH, else $RNN_LIBRARY, else librnn.so.0 through the
-- system loader (LD_LIBRARY_PATH, ld.so.cache). Prints "test_accuracy=0.xxx"
-- last; exits 1 when a librnn call fails, 3 when the accuracy is below
-- --min-accuracy.
local ffi = require("ffi")
local bit = require("bit")

ffi.cdef [[
typedef enum rnn_status { RNN_OK = 0 } rnn_status;
typedef struct rnn rnn_t;
typedef struct rnn_optim rnn_optim_t;
typedef struct rnn_config {
    size_t struct_size;
    int32_t input_size, hidden_size, num_layers, bidirectional, nonlinearity,
            bias, batch_first, output_size, head_mode, reserved;
    uint64_t seed;
} rnn_config;
typedef struct rnn_optim_config {
    size_t struct_size;
    int32_t kind, nesterov;
    float lr, momentum, dampening, weight_decay, beta1, beta2, eps;
} rnn_optim_config;
const char *rnn_version(void);
const char *rnn_strerror(rnn_status status);
const char *rnn_last_error(void);
const char *rnn_blas_info(void);
rnn_status rnn_config_init(rnn_config *cfg, size_t struct_size,
                           int32_t input_size, int32_t hidden_size);
rnn_status rnn_create(rnn_t **out, const rnn_config *cfg);
void rnn_destroy(rnn_t *model);
rnn_status rnn_forward(rnn_t *model, int32_t seq_len, int32_t batch,
                       const float *x, const int32_t *lengths,
                       const float *h0, float *y, float *h_n);
rnn_status rnn_backward(rnn_t *model, const float *dy, const float *dh_n,
                        float *dx, float *dh0);
rnn_status rnn_zero_grad(rnn_t *model);
rnn_status rnn_head_forward(rnn_t *model, float *logits);
rnn_status rnn_head_backward(rnn_t *model, const float *dlogits);
rnn_status rnn_loss_bce_with_logits(int32_t n, const float *logits,
                                    const float *targets, int32_t reduction,
                                    float *loss, float *dlogits);
rnn_status rnn_optim_config_init(rnn_optim_config *cfg, size_t struct_size,
                                 int32_t kind, float lr);
rnn_status rnn_optim_create(rnn_optim_t **out, const rnn_t *model,
                            const rnn_optim_config *cfg);
void rnn_optim_destroy(rnn_optim_t *optim);
rnn_status rnn_optim_step(rnn_optim_t *optim, rnn_t *model);
]]

local RNN_OPTIM_SGD, RNN_REDUCTION_MEAN = 0, 0

-- Command line ---------------------------------------------------------------
local opt = { lib = os.getenv("RNN_LIBRARY"), epochs = 10, seed = 1, min_accuracy = 0 }
do
    local i = 1
    while i <= #arg do
        local name, value = arg[i], arg[i + 1]
        if name == "--lib" then opt.lib = value
        elseif name == "--epochs" then opt.epochs = tonumber(value)
        elseif name == "--seed" then opt.seed = tonumber(value)
        elseif name == "--min-accuracy" then opt.min_accuracy = tonumber(value)
        else
            io.stderr:write("usage: luajit seed_sum_sign.lua [--lib PATH] [--epochs N] ",
                            "[--seed N] [--min-accuracy F]\n")
            os.exit(2)
        end
        if value == nil then io.stderr:write("missing value for ", name, "\n"); os.exit(2) end
        i = i + 2
    end
end

local ok, C = pcall(ffi.load, (opt.lib and opt.lib ~= "") and opt.lib or "librnn.so.0")
if not ok then
    io.stderr:write("seed_sum_sign.lua: cannot load librnn (", tostring(C), "); ",
                    "pass --lib PATH or set RNN_LIBRARY\n")
    os.exit(1)
end

-- Every librnn call goes through check: on failure, say which and why.
local function check(status, what)
    if status ~= 0 then
        io.stderr:write(string.format("seed_sum_sign.lua: %s: %s (%s)\n", what,
            ffi.string(C.rnn_strerror(status)), ffi.string(C.rnn_last_error())))
        os.exit(1)
    end
end

-- Random numbers (as examples/seed_sum_sign.c) --------------------------------
local function new_prng(state)
    return { state = ffi.new("uint64_t", state), spare = 0, has_spare = false }
end
local function splitmix64(g)
    g.state = g.state + 0x9E3779B97F4A7C15ULL
    local z = g.state
    z = bit.bxor(z, bit.rshift(z, 30)) * 0xBF58476D1CE4E5B9ULL
    z = bit.bxor(z, bit.rshift(z, 27)) * 0x94D049BB133111EBULL
    return bit.bxor(z, bit.rshift(z, 31))
end
local function uniform(g) -- in (0, 1)
    return (tonumber(bit.rshift(splitmix64(g), 11)) + 0.5) * 2 ^ -53
end
local function normal(g)
    if g.has_spare then g.has_spare = false; return g.spare end
    local r, theta = math.sqrt(-2 * math.log(uniform(g))), 2 * math.pi * uniform(g)
    g.spare, g.has_spare = r * math.sin(theta), true
    return r * math.cos(theta)
end
local function below(g, n) -- uniform integer in [0, n), no modulo bias
    n = ffi.new("uint64_t", n)
    local threshold = (0ULL - n) % n
    while true do
        local w = splitmix64(g)
        if w >= threshold then return tonumber(w % n) end
    end
end

-- Data: n sequences of T steps, x[i*T + t], labels y[i] ----------------------
local T, H = 10, 32
local function make_data(g, n)
    local x, y = ffi.new("float[?]", n * T), ffi.new("float[?]", n)
    for i = 0, n - 1 do
        local sum = 0
        for t = 0, T - 1 do
            x[i * T + t] = normal(g)
            sum = sum + x[i * T + t]     -- the float value the model sees
        end
        y[i] = sum > 0 and 1 or 0
    end
    return x, y
end

local master = new_prng(opt.seed)
local g_train, g_test, g_shuffle =
    new_prng(splitmix64(master)), new_prng(splitmix64(master)), new_prng(splitmix64(master))
local n_train, n_test = 1000, 1000
local xtrain, ytrain = make_data(g_train, n_train)
local xtest, ytest = make_data(g_test, n_test)

-- Model and optimizer, filled through the pointer initialisers -------------
local cfg = ffi.new("rnn_config")
check(C.rnn_config_init(cfg, ffi.sizeof(cfg), 1, H), "rnn_config_init")
cfg.output_size = 1
cfg.seed = opt.seed
local pmodel = ffi.new("rnn_t *[1]")
check(C.rnn_create(pmodel, cfg), "rnn_create")
local model = ffi.gc(pmodel[0], C.rnn_destroy)

local ocfg = ffi.new("rnn_optim_config")
check(C.rnn_optim_config_init(ocfg, ffi.sizeof(ocfg), RNN_OPTIM_SGD, 0.01), "rnn_optim_config_init")
local poptim = ffi.new("rnn_optim_t *[1]")
check(C.rnn_optim_create(poptim, model, ocfg), "rnn_optim_create")
local optim = ffi.gc(poptim[0], C.rnn_optim_destroy)

print(string.format("librnn %s (LuaJIT FFI), BLAS: %s",
                    ffi.string(C.rnn_version()), ffi.string(C.rnn_blas_info())))

-- Training: one sequence per step --------------------------------------------
local logit, dlogit, loss = ffi.new("float[1]"), ffi.new("float[1]"), ffi.new("float[1]")
local order = {}
for i = 1, n_train do order[i] = i - 1 end
local started = os.clock()
for epoch = 1, opt.epochs do
    for i = n_train, 2, -1 do   -- Fisher-Yates
        local j = below(g_shuffle, i) + 1
        order[i], order[j] = order[j], order[i]
    end
    local total, correct = 0, 0
    for k = 1, n_train do
        local s = order[k]
        check(C.rnn_zero_grad(model), "rnn_zero_grad")
        check(C.rnn_forward(model, T, 1, xtrain + s * T, nil, nil, nil, nil), "rnn_forward")
        check(C.rnn_head_forward(model, logit), "rnn_head_forward")
        check(C.rnn_loss_bce_with_logits(1, logit, ytrain + s, RNN_REDUCTION_MEAN, loss, dlogit),
              "rnn_loss_bce_with_logits")
        total = total + loss[0]
        if (logit[0] > 0) == (ytrain[s] > 0.5) then correct = correct + 1 end
        check(C.rnn_head_backward(model, dlogit), "rnn_head_backward")
        check(C.rnn_backward(model, nil, nil, nil, nil), "rnn_backward")
        check(C.rnn_optim_step(optim, model), "rnn_optim_step")
    end
    print(string.format("epoch %2d  loss %.4f  train accuracy %.3f", epoch,
                        total / n_train, correct / n_train))
end
local seconds = os.clock() - started

-- Test: all fresh sequences as one time-major batch [T, n, 1] ----------------
local bx, logits = ffi.new("float[?]", T * n_test), ffi.new("float[?]", n_test)
for j = 0, n_test - 1 do
    for t = 0, T - 1 do bx[t * n_test + j] = xtest[j * T + t] end
end
check(C.rnn_forward(model, T, n_test, bx, nil, nil, nil, nil), "rnn_forward")
check(C.rnn_head_forward(model, logits), "rnn_head_forward")
local correct = 0
for j = 0, n_test - 1 do
    if (logits[j] > 0) == (ytest[j] > 0.5) then correct = correct + 1 end
end
local accuracy = correct / n_test
print(string.format("test accuracy %.3f on %d fresh sequences, training %.2f s CPU",
                    accuracy, n_test, seconds))
print(string.format("test_accuracy=%.3f", accuracy))
if accuracy < opt.min_accuracy then
    io.stderr:write(string.format("seed_sum_sign.lua: test accuracy %.3f below %.3f\n",
                                  accuracy, opt.min_accuracy))
    os.exit(3)
end
