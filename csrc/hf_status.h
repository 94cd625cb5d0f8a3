/* Status codes returned by every hf_ kernel, and small portability macros.
 * The Cython bridge maps each non-zero status to exactly one exception type. */
#ifndef HF_STATUS_H
#define HF_STATUS_H

typedef enum hf_status {
    HF_OK = 0,
    HF_ERR_SHAPE = 1,      /* a size is zero or inconsistent */
    HF_ERR_KIND = 2,       /* unknown activation / loss / metric / optimizer id */
    HF_ERR_LABEL = 3,      /* a sparse label is not a class index in [0, k) */
    HF_ERR_NONFINITE = 4,  /* a NaN or infinity where a finite value is required */
    HF_ERR_RANGE = 5       /* a position or row index outside its array */
} hf_status;

#if defined(__GNUC__) || defined(__clang__)
#define HF_ALWAYS_INLINE static inline __attribute__((always_inline))
#define HF_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define HF_LIKELY(x) __builtin_expect(!!(x), 1)
#define HF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HF_ALWAYS_INLINE static inline
#define HF_PREFETCH(p) ((void)(p))
#define HF_LIKELY(x) (x)
#define HF_UNLIKELY(x) (x)
#endif

/* Vectorisation hint: needs -fopenmp-simd (no OpenMP runtime is linked). */
#define HF_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP) || defined(HF_OMP_SIMD)
#define HF_SIMD HF_PRAGMA(omp simd)
#else
#define HF_SIMD
#endif

#endif
