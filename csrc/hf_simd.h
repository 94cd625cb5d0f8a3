/* Run-time choice of the instruction set for hot loops.
 *
 * HF_HOT marks a function that GCC compiles twice, once for the x86-64-v3
 * level (AVX2 + FMA) and once for the baseline; the loader picks the clone
 * that the running CPU supports (an ifunc). The wheel thus stays portable
 * (no -march flags) yet uses 256-bit FMA where available. Other compilers
 * and architectures get the plain baseline function. Sanitizer builds also
 * get the plain function, so the two CI builds cover both code paths. */
#ifndef HF_SIMD_H
#define HF_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && \
    defined(__ELF__) && !defined(HF_NO_CLONES)
#define HF_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#define HF_HAVE_CLONES 1
#else
#define HF_HOT
#define HF_HAVE_CLONES 0
#endif

/* Name of the clone the loader chose for HF_HOT functions on this CPU. */
const char *hf_simd_path(void);

#endif
