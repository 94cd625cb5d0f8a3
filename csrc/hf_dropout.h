/* Inverted dropout with a counter-based mask: whether element (row, col)
 * of a node's output is kept in a given training step is a pure function
 * of (seed, iteration, node, row, col), so a resumed run draws the same
 * masks with no generator state to save.
 *
 * The hash, in two levels so the per-element part vectorises (32-bit
 * multiplies only): a row key r = mix64(key + (row + 1) * golden64) from
 * SplitMix64's finaliser, folded to 32 bits as lo(r) ^ hi(r); then
 * h = fmix32(rowkey + col * golden32) (MurmurHash3's finaliser, a
 * bijection of 32-bit words). The element is kept when h >> 8 (its top 24
 * bits) >= floor(rate * 2^24). */
#ifndef HF_DROPOUT_H
#define HF_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#define HF_DROPOUT_BITS 24

/* The stream key of one node in one step. */
uint64_t hf_dropout_key(uint64_t seed, int64_t iteration, size_t node);

/* The key whose row 0 is row `rows` of `key`'s stream (a data-parallel
 * share draws its rows of the global batch's mask). */
uint64_t hf_dropout_skip_rows(uint64_t key, size_t rows);

/* mask (n x k) = kept ? scale : 0, where scale = 1 / (1 - rate) in float32
 * (tf.nn.dropout's factor); shared_row: every row uses row 0's draws
 * (noise_shape (1, k)). When x is not NULL, also y = x * mask (x row
 * stride ldx, y contiguous), row by row while the mask is in cache. */
void hf_dropout_apply(uint64_t key, uint32_t threshold, float scale, int shared_row,
                      const float *x, size_t ldx, float *mask, float *y, size_t n, size_t k);

#endif
