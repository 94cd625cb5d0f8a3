#include "hf_dropout.h"

/* SplitMix64's finaliser: every input bit flips each output bit with
 * probability about 1/2, so consecutive counters give independent draws. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9E3779B97F4A7C15ULL

uint64_t hf_dropout_key(uint64_t seed, int64_t iteration, size_t node)
{
    uint64_t k = mix64(seed + GOLDEN);
    k = mix64(k ^ ((uint64_t)iteration * GOLDEN + 1));
    return mix64(k ^ ((uint64_t)node * 0xD1B54A32D192ED03ULL + 2));
}

static inline int keep(uint64_t key, uint64_t row, uint64_t col, uint32_t threshold)
{
    /* rows and columns fit in 31 bits (the BLAS int), so the counter is unique. */
    uint64_t h = mix64(key + ((row << 32 | col) + 1) * GOLDEN);
    return (uint32_t)(h >> (64 - HF_DROPOUT_BITS)) >= threshold;
}

int hf_dropout_keep(uint64_t key, size_t row, size_t col, uint32_t threshold)
{
    return keep(key, row, col, threshold);
}

void hf_dropout_mask(uint64_t key, uint32_t threshold, float scale, int shared_row, float *mask,
                     size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        float *m = mask + i * k;
        if (shared_row && i > 0) {
            for (size_t j = 0; j < k; j++)
                m[j] = mask[j];
            continue;
        }
        for (size_t j = 0; j < k; j++)
            m[j] = keep(key, i, j, threshold) ? scale : 0.0f;
    }
}
