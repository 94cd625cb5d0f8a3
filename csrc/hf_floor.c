#include "hf_floor.h"

#include "hf_simd.h"
#include "hf_status.h"

#define HF_READ_LANES 64 /* four 512-bit or eight 256-bit accumulators */

HF_HOT double hf_read_floats(const float *x, size_t count)
{
    float acc[HF_READ_LANES] = {0.0f};
    size_t i = 0;
    for (; i + HF_READ_LANES <= count; i += HF_READ_LANES) {
        HF_SIMD
        for (size_t l = 0; l < HF_READ_LANES; l++)
            acc[l] += x[i + l];
    }
    double total = 0.0;
    for (; i < count; i++)
        total += x[i];
    for (size_t l = 0; l < HF_READ_LANES; l++)
        total += acc[l];
    return total;
}
