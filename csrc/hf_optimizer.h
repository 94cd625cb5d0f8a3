/* Optimizer updates with Keras 2 (tf-keras) formulas, in place over one flat
 * parameter buffer. The learning rate is an argument of every call so a
 * callback may change it between batches. */
#ifndef HF_OPTIMIZER_H
#define HF_OPTIMIZER_H

#include <stddef.h>
#include <stdint.h>

#include "hf_status.h"

enum { HF_OPT_SGD = 0, HF_OPT_RMSPROP = 1, HF_OPT_ADAM = 2 };

typedef struct hf_opt {
    int kind;
    float rho, momentum, epsilon;
    int centered, nesterov;
    float beta_1, beta_2;
    int amsgrad;
} hf_opt;

/* One trainable weight array inside the flat buffers. */
typedef struct hf_var {
    size_t offset, size;
} hf_var;

static inline int hf_opt_valid(int kind) { return kind >= HF_OPT_SGD && kind <= HF_OPT_ADAM; }

/* Slots: three buffers of n floats each, all valid even when unused (zero
 * at the start):
 *   SGD     s0 = m (momentum > 0)
 *   RMSprop s0 = v, s1 = m (momentum > 0), s2 = a (centered)
 *   Adam    s0 = m, s1 = v, s2 = vhat (amsgrad)
 * iteration: updates applied before this one (Adam uses t = iteration + 1). */
hf_status hf_optimizer_update(const hf_opt *opt, float *params, const float *grads, float *s0,
                              float *s1, float *s2, size_t n, float lr, int64_t iteration);

#endif
