#include "hf_simd.h"

const char *hf_simd_path(void)
{
#if HF_HAVE_CLONES
    /* The ifunc resolver tests exactly this ISA-level bit. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3 (avx2+fma)";
    return "baseline (sse2)";
#elif defined(__x86_64__)
    return "baseline (sse2, no run-time dispatch in this build)";
#else
    return "baseline";
#endif
}
