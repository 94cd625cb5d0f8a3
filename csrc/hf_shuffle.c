#include "hf_shuffle.h"

static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound), 0 < bound < 2^32: one 32x32->64 multiply, and a
 * division only in the rare rejection case (Lemire 2019). */
static inline uint64_t bounded32(uint64_t *state, uint32_t bound)
{
    uint64_t m = (splitmix64(state) >> 32) * (uint64_t)bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        const uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            m = (splitmix64(state) >> 32) * (uint64_t)bound;
            low = (uint32_t)m;
        }
    }
    return m >> 32;
}

/* Uniform in [0, bound) for bounds of 2^32 and more: rejection, then modulo. */
static uint64_t bounded64(uint64_t *state, uint64_t bound)
{
    const uint64_t threshold = (0 - bound) % bound;
    uint64_t r;
    do {
        r = splitmix64(state);
    } while (r < threshold);
    return r % bound;
}

void hf_permutation(int64_t *out, size_t n, uint64_t seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++)
        out[i] = (int64_t)i;
    for (size_t i = n; i > 1; i--) {
        const uint64_t bound = (uint64_t)i;
        const size_t j = (size_t)(bound <= UINT32_MAX ? bounded32(&state, (uint32_t)bound)
                                                      : bounded64(&state, bound));
        const int64_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}
