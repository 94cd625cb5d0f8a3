/* Inverted dropout with a counter-based mask: whether element (row, col)
 * of a node's output is kept in a given training step is a pure function
 * of (seed, iteration, node, row, col), so a resumed run draws the same
 * masks with no generator state to save. */
#ifndef HF_DROPOUT_H
#define HF_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

/* The threshold of a rate in [0, 1): an element is kept when the top 24
 * bits of its hash are >= floor(rate * 2^24). */
#define HF_DROPOUT_BITS 24

/* The stream key of one node in one step. */
uint64_t hf_dropout_key(uint64_t seed, int64_t iteration, size_t node);

/* 1 when element (row, col) is kept. */
int hf_dropout_keep(uint64_t key, size_t row, size_t col, uint32_t threshold);

/* mask (n x k) = kept ? scale : 0, where scale = 1 / (1 - rate) in float32
 * (tf.nn.dropout's factor); shared_row: every row uses row 0's draws
 * (noise_shape (1, k)). */
void hf_dropout_mask(uint64_t key, uint32_t threshold, float scale, int shared_row, float *mask,
                     size_t n, size_t k);

#endif
