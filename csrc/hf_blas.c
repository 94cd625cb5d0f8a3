#include "hf_blas.h"

void hf_gemm(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
             const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
             size_t ldc)
{
    /* A row-major matrix is its transpose in column-major order, so
     * C^T = op(B)^T op(A)^T: swap the operands and their flags. */
    char tra = tb ? 'T' : 'N', trb = ta ? 'T' : 'N';
    hf_blas_int M = (hf_blas_int)n, N = (hf_blas_int)m, K = (hf_blas_int)k;
    hf_blas_int LDA = (hf_blas_int)ldb, LDB = (hf_blas_int)lda, LDC = (hf_blas_int)ldc;
    blas->sgemm(&tra, &trb, &M, &N, &K, &alpha, (float *)b, &LDA, (float *)a, &LDB, &beta, c,
                &LDC);
}
