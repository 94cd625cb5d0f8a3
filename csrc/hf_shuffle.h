/* Row permutations for shuffled epochs, made natively from one 64-bit seed. */
#ifndef HF_SHUFFLE_H
#define HF_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

/* Write a uniformly random permutation of 0..n-1 into out (Fisher-Yates).
 * The draws come from SplitMix64 started at `seed`, bounded without bias by
 * Lemire's multiply-shift method, so a seed gives the same permutation on
 * every platform (the NumPy twin in _reference.py reproduces it). */
void hf_permutation(int64_t *out, size_t n, uint64_t seed);

#endif
