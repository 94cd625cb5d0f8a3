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

/* Large batches (n >= HF_DENSE1_SPLIT_ROWS) are cut into at most
 * HF_DENSE1_MAX_BLOCKS blocks of about HF_DENSE1_BLOCK_ROWS rows (an even
 * count; the cut depends on n only) run on the pool (hf_pool.h). Training
 * sums each block's gradient, loss and bias gradient apart and adds them in
 * block order, so results are bitwise the same for any thread count. Below
 * 512 rows a pool job costs more than the second thread saves (measured on
 * the tutorial's 784 inputs: benchmarks/bench_threads.py). */
#define HF_DENSE1_SPLIT_ROWS 512
#define HF_DENSE1_BLOCK_ROWS 256
#define HF_DENSE1_MAX_BLOCKS 8

/* How a batch of n rows is cut: the block count, and *rows per block. */
size_t hf_dense1_blocks(size_t n, size_t *rows);

/* Floats of scratch one block uses to align its loads (for d inputs), and
 * the scratch the two functions below can use: the blocks' partial
 * gradients and their alignment scratch. With NULL they run in one block,
 * unaligned (the same outputs; the gradient sums rows in another order). */
#define HF_DENSE1_BLOCK_SCRATCH(d) (2 * ((d) + 16) + 16)
#define HF_DENSE1_SCRATCH(d) (HF_DENSE1_MAX_BLOCKS * ((d) + HF_DENSE1_BLOCK_SCRATCH(d)))

/* The two walks over the rows of training, same arithmetic per row and per
 * row pair (the same bits, checked by a C probe on a Zen 4 core; the tests
 * ask agreement to float rounding): FUSED finishes each block of four rows
 * (dot products, then its gradient terms) before the next; PIPELINED adds a
 * row pair's gradient terms in the loop that computes the next pair's dot
 * products. Which is faster depends on the CPU (measured: the fused walk by
 * pairs on Zen 3, pipelined on an AVX-512 Xeon; on Zen 4 pipelined, then
 * fused by fours, 5-9% ahead), so hookfit times both at import
 * (hf_dense1_calibrate) unless HOOKFIT_DENSE1_KERNEL names one. */
enum { HF_DENSE1_PIPELINED = 0, HF_DENSE1_FUSED = 1 };
void hf_dense1_set_variant(int variant);
int hf_dense1_variant(void);

/* Times both variants over a shuffled pass of tutorial-sized batches
 * (128 x 784, from rows that do not fit in L2; 2-3 ms), keeps the faster
 * and returns it. */
int hf_dense1_calibrate(void);

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
