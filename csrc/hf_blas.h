/* Matrix products through a Fortran BLAS handed in as function pointers.
 *
 * The Cython bridge fills an hf_blas table from scipy.linalg.cython_blas at
 * import (scipy ships OpenBLAS), so the C code links no BLAS itself. */
#ifndef HF_BLAS_H
#define HF_BLAS_H

#include <stddef.h>

/* The integer type of the BLAS interface (LP64 in scipy's cython_blas). */
typedef int hf_blas_int;

typedef void (*hf_sgemm_fn)(char *transa, char *transb, hf_blas_int *m, hf_blas_int *n,
                            hf_blas_int *k, float *alpha, float *a, hf_blas_int *lda, float *b,
                            hf_blas_int *ldb, float *beta, float *c, hf_blas_int *ldc);

typedef struct hf_blas {
    hf_sgemm_fn sgemm;
} hf_blas;

/* Row-major C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C.
 * ta/tb: 0 = as stored, 1 = transposed. lda/ldb/ldc are row strides in
 * elements. Sizes must fit hf_blas_int (the caller checks); blas->sgemm must
 * be set (the bridge always sets it). Large products run as blocks on the
 * thread pool (hf_pool.h), with the same result for any thread count. */
void hf_gemm(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
             const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
             size_t ldc);

/* One product as hf_gemm takes it: c = alpha * op(a) op(b) + beta * c. */
typedef struct hf_product {
    int ta, tb;
    size_t m, n, k;
    float alpha;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float beta;
    float *c;
    size_t ldc;
} hf_product;

/* Two independent products (neither writes what the other reads), each
 * exactly as hf_gemm computes it, as one pool job holding the blocks of
 * both: a product too small to be split still runs beside the other one
 * (a layer's dW and dx), instead of leaving the second thread idle. Either
 * may be NULL (then: hf_gemm on the other). */
void hf_gemm_pair(const hf_blas *blas, const hf_product *p, const hf_product *q);

/* How hf_gemm cuts a product of this shape: the number of blocks (1: one
 * call), each *block rows (m >= n) or columns long. Exposed for tests. */
size_t hf_gemm_blocks(size_t m, size_t n, size_t k, size_t *block);

#endif
