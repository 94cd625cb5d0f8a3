#include "hf_dropout.h"

#include "hf_simd.h"
#include "hf_status.h"

/* SplitMix64's finaliser: every input bit flips each output bit with
 * probability about 1/2, so consecutive counters give independent draws. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#define GOLDEN64 0x9E3779B97F4A7C15ULL
#define GOLDEN32 0x9E3779B9u

uint64_t hf_dropout_key(uint64_t seed, int64_t iteration, size_t node)
{
    uint64_t k = mix64(seed + GOLDEN64);
    k = mix64(k ^ ((uint64_t)iteration * GOLDEN64 + 1));
    return mix64(k ^ ((uint64_t)node * 0xD1B54A32D192ED03ULL + 2));
}

uint64_t hf_dropout_skip_rows(uint64_t key, size_t rows)
{
    /* Row i's key is mix64(key + (i + 1) * golden64): shifting the key by
     * rows * golden64 starts the stream at row `rows`. */
    return key + (uint64_t)rows * GOLDEN64;
}

/* One row of the mask (MurmurHash3's fmix32 per column). The column index
 * is a 32-bit counter (the hash takes it mod 2^32 anyway): with a size_t
 * one the vector loop kept 64-bit lanes and repacked them for every 8
 * columns (~22 instructions per 8 columns, ~14 now). */
HF_HOT static void mask_row(uint32_t rowkey, uint32_t threshold, float scale, float *restrict m,
                            size_t k)
{
    const uint32_t k32 = (uint32_t)k; /* (a row's width: < 2^32) */
    uint32_t start = rowkey;
    HF_SIMD
    for (uint32_t j = 0; j < k32; j++) {
        uint32_t h = start;
        start += GOLDEN32;
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        m[j] = (h >> (32 - HF_DROPOUT_BITS)) >= threshold ? scale : 0.0f;
    }
}

HF_HOT static void multiply_row(const float *restrict x, const float *restrict m,
                                float *restrict y, size_t k)
{
    HF_SIMD
    for (size_t j = 0; j < k; j++)
        y[j] = x[j] * m[j];
}

void hf_dropout_apply(uint64_t key, uint32_t threshold, float scale, int shared_row,
                      const float *x, size_t ldx, float *mask, float *y, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        float *m = mask + i * k;
        if (shared_row && i > 0) {
            for (size_t j = 0; j < k; j++)
                m[j] = mask[j];
        } else {
            uint64_t r = mix64(key + ((uint64_t)i + 1) * GOLDEN64);
            mask_row((uint32_t)r ^ (uint32_t)(r >> 32), threshold, scale, m, k);
        }
        if (x != NULL)
            multiply_row(x + i * ldx, m, y + i * k, k);
    }
}
