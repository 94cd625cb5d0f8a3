/* The GEMV-shaped case: one Dense layer with a single unit (the tutorial's
 * Dense(1) on 784 inputs). BLAS is the wrong tool here: a step is bound by
 * reading X, so forward, loss gradient and weight gradient are fused into ONE
 * pass over each batch row, read in place through the row order. */
#ifndef HF_DENSE1_H
#define HF_DENSE1_H

#include <stddef.h>

#include "hf_loss.h"
#include "hf_rows.h"
#include "hf_status.h"

/* Floats of scratch the two functions below can use (for d inputs) to align
 * their loads; with less (or NULL) they run unaligned, with the same result. */
#define HF_DENSE1_SCRATCH(d) (2 * ((d) + 16) + 16)

/* Gradients of the loss over n rows of x (width d): gw (d) and gb (when not
 * NULL) are overwritten; a (n) receives the layer outputs (for the metrics);
 * *loss_value the batch loss. w (d) and b (NULL: no bias) are read only.
 * scratch: HF_DENSE1_SCRATCH(d) floats or NULL. */
hf_status hf_dense1_train(const hf_rows *x, const hf_rows *y, const hf_rows *sw, size_t n,
                          size_t d, const float *w, const float *b, int act,
                          const hf_loss_spec *loss,
                          float *gw, float *gb, float *a, double *loss_value, float *scratch);

/* a[i] = act(x_i . w + b) for n rows. scratch: as above. */
hf_status hf_dense1_forward(const hf_rows *x, size_t n, size_t d, const float *w, const float *b,
                            int act, float *a, float *scratch);

#endif
