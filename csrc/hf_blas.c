#include "hf_blas.h"
#include "hf_status.h"

void hf_gemm(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
             const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
             size_t ldc)
{
    if (blas == NULL || blas->sgemm == NULL) {
        hf_gemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* A row-major matrix is its transpose in column-major order, so
     * C^T = op(B)^T op(A)^T: swap the operands and their flags. */
    char tra = tb ? 'T' : 'N', trb = ta ? 'T' : 'N';
    hf_blas_int M = (hf_blas_int)n, N = (hf_blas_int)m, K = (hf_blas_int)k;
    hf_blas_int LDA = (hf_blas_int)ldb, LDB = (hf_blas_int)lda, LDC = (hf_blas_int)ldc;
    blas->sgemm(&tra, &trb, &M, &N, &K, &alpha, (float *)b, &LDA, (float *)a, &LDB, &beta, c,
                &LDC);
}

void hf_gemm_naive(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++) {
        float *crow = c + i * ldc;
        for (size_t j = 0; j < n; j++)
            crow[j] = beta == 0.0f ? 0.0f : beta * crow[j];
        for (size_t p = 0; p < k; p++) {
            float aip = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
            if (tb) {
                for (size_t j = 0; j < n; j++)
                    crow[j] += aip * b[j * ldb + p];
            } else {
                const float *brow = b + p * ldb;
                HF_SIMD
                for (size_t j = 0; j < n; j++)
                    crow[j] += aip * brow[j];
            }
        }
    }
}
