/* L1/L2 penalties (keras.regularizers.L1L2, the same in tf-keras and
 * Keras 3): l1 * sum|w| + l2 * sum w^2, gradient l1 sign(w) + 2 l2 w. */
#ifndef HF_REGULARIZER_H
#define HF_REGULARIZER_H

#include <stddef.h>

/* The penalty of w (n values); 0 when both factors are 0. */
double hf_penalty(const float *w, size_t n, float l1, float l2);

/* g += scale * (l1 sign(w) + 2 l2 w) over n values (scale: 1 for weights,
 * 1 / batch rows for an activity penalty). */
void hf_penalty_grad(const float *w, float *g, size_t n, float l1, float l2, float scale);

#endif
