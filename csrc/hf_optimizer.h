/* Optimizer updates with Keras 2 (tf-keras 2.21) formulas, in place over one
 * flat parameter buffer holding the trainable variables at the offsets given
 * by an hf_var list (only those ranges are touched). The learning rate is an
 * argument of every call so a callback or a schedule may change it between
 * batches.
 *
 * One step, in tf-keras's order: clip the gradients (clipnorm per variable,
 * clipvalue per element, global_clipnorm over all variables), apply the
 * decoupled weight decay (p -= p * weight_decay * lr), apply the update rule
 * of the kind, then (use_ema) move the averages toward the new weights. */
#ifndef HF_OPTIMIZER_H
#define HF_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "hf_status.h"

enum {
    HF_OPT_SGD = 0,
    HF_OPT_RMSPROP = 1,
    HF_OPT_ADAM = 2, /* AdamW too: Adam with weight_decay */
    HF_OPT_ADAGRAD = 3,
    HF_OPT_ADAMAX = 4,
    HF_OPT_ADADELTA = 5,
    HF_OPT_NADAM = 6,
    HF_OPT_FTRL = 7,
    HF_OPT_LION = 8
};
#define HF_OPT_N_KINDS 9
#define HF_OPT_MAX_SLOTS 5

/* Settings of every kind (each reads its own; Keras's names). A clipping or
 * decay setting <= 0 (or NaN) is off. */
typedef struct hf_opt_spec {
    int kind;
    float beta_1, beta_2, epsilon; /* Adam */
    float rho, momentum;           /* RMSprop, Adadelta; SGD momentum */
    int centered, nesterov, amsgrad;
    float initial_accumulator_value; /* Adagrad, Ftrl */
    float learning_rate_power, l1, l2, l2_shrinkage, beta; /* Ftrl */
    float clipnorm, clipvalue, global_clipnorm, weight_decay;
    int use_ema;
    float ema_momentum;
    int ema_overwrite_frequency; /* read by the Python side (the overwrite is a copy) */
} hf_opt_spec;

/* One trainable weight array inside the flat buffers. */
typedef struct hf_var {
    size_t offset, size;
} hf_var;

static inline int hf_opt_valid(int kind) { return kind >= 0 && kind < HF_OPT_N_KINDS; }

/* The kind's own slot buffers (n_params floats each, zero at the start):
 *   SGD     [m]            (m used when momentum > 0)
 *   RMSprop [v, m, a]      (m: momentum > 0, a: centered)
 *   Adam    [m, v, vhat]   (vhat: amsgrad)
 *   Adagrad [accumulator]  (starts at initial_accumulator_value)
 *   Adamax  [m, u]
 *   Adadelta [accumulated_grad, accumulated_delta_var]
 *   Nadam   [m, v, u_product] (u_product: one float, the first of its buffer)
 *   Ftrl    [accumulator, linear] (accumulator starts at initial_accumulator_value)
 *   Lion    [m]
 * followed by the EMA averages when use_ema. Slots that start non-zero are
 * set by the step with iteration 0 (when tf-keras builds its optimizer). */
size_t hf_opt_kind_slots(int kind);
size_t hf_opt_n_slots(const hf_opt_spec *o);

/* A spec with Keras's defaults for kind (no clipping, decay or EMA). */
hf_opt_spec hf_opt_spec_of(int kind);

/* HF_OK, or HF_ERR_KIND for an unknown kind or a setting out of range. */
hf_status hf_opt_spec_check(const hf_opt_spec *o);

/* One step over the listed vars. grads may be clipped in place. slots:
 * hf_opt_n_slots(o) buffers of n_params floats. iteration: updates applied
 * before this one (Adam's bias correction uses t = iteration + 1; the EMA
 * averages start as a copy of the weights when iteration is 0). */
hf_status hf_opt_apply(const hf_opt_spec *o, float *params, float *grads, float *const *slots,
                       size_t n_params, const hf_var *vars, size_t n_vars, float lr,
                       int64_t iteration);

#endif
