#include "hf_blas.h"

#include "hf_pool.h"

/* One BLAS call on the whole product. */
static void gemm_once(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k,
                      float alpha, const float *a, size_t lda, const float *b, size_t ldb,
                      float beta, float *c, size_t ldc)
{
    /* A row-major matrix is its transpose in column-major order, so
     * C^T = op(B)^T op(A)^T: swap the operands and their flags. */
    char tra = tb ? 'T' : 'N', trb = ta ? 'T' : 'N';
    hf_blas_int M = (hf_blas_int)n, N = (hf_blas_int)m, K = (hf_blas_int)k;
    hf_blas_int LDA = (hf_blas_int)ldb, LDB = (hf_blas_int)lda, LDC = (hf_blas_int)ldc;
    blas->sgemm(&tra, &trb, &M, &N, &K, &alpha, (float *)b, &LDA, (float *)a, &LDB, &beta, c,
                &LDC);
}

/* A large product is cut into blocks of C's rows (or columns, whichever
 * side is longer), one BLAS call per block, run on the pool. The cut
 * depends only on the shape, never on the thread count, and every element
 * of C comes from one call over the whole of k: results are bitwise the
 * same for any number of threads. A product alone is cut from
 * HF_GEMM_SPLIT_FLOPS multiply-adds (below, waking a thread costs more than
 * it saves); the two products of a pair keep both threads busy already and
 * are each cut only from HF_GEMM_PAIR_SPLIT_FLOPS (a block re-packs the
 * other operand: at 2^21 the cut MLP's forward product gained 4% at two
 * threads, its paired dW/dx gained nothing more). */
#define HF_GEMM_SPLIT_FLOPS ((size_t)1 << 21)
#define HF_GEMM_PAIR_SPLIT_FLOPS ((size_t)1 << 22)
#define HF_GEMM_MAX_BLOCKS 4
#define HF_GEMM_MIN_SIDE 32

typedef struct gemm_job {
    const hf_blas *blas;
    int ta, tb, by_rows;
    size_t m, n, k, block, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

static void gemm_piece(const gemm_job *j, size_t t)
{
    if (j->by_rows) {
        size_t i0 = t * j->block, rows = j->m - i0 < j->block ? j->m - i0 : j->block;
        /* Rows i0.. of op(A): columns of A when it is transposed. */
        const float *a = j->ta ? j->a + i0 : j->a + i0 * j->lda;
        gemm_once(j->blas, j->ta, j->tb, rows, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb,
                  j->beta, j->c + i0 * j->ldc, j->ldc);
    } else {
        size_t c0 = t * j->block, cols = j->n - c0 < j->block ? j->n - c0 : j->block;
        /* Columns c0.. of op(B): rows of B when it is transposed. */
        const float *b = j->tb ? j->b + c0 * j->ldb : j->b + c0;
        gemm_once(j->blas, j->ta, j->tb, j->m, cols, j->k, j->alpha, j->a, j->lda, b, j->ldb,
                  j->beta, j->c + c0, j->ldc);
    }
}

static void gemm_block(void *ctx, size_t t)
{
    gemm_piece(ctx, t);
}

static size_t cut(size_t m, size_t n, size_t k, size_t unit, size_t *block)
{
    const size_t side = m > n ? m : n;
    const size_t flops = m * n * k; /* sizes fit hf_blas_int: no overflow in 64 bits */
    size_t blocks = flops / unit;
    if (blocks > HF_GEMM_MAX_BLOCKS)
        blocks = HF_GEMM_MAX_BLOCKS;
    if (blocks > side / HF_GEMM_MIN_SIDE)
        blocks = side / HF_GEMM_MIN_SIDE;
    if (blocks < 2) {
        *block = side;
        return 1;
    }
    size_t b = (side + blocks - 1) / blocks;
    b = (b + 15) / 16 * 16; /* whole vector tiles per block */
    *block = b;
    return (side + b - 1) / b;
}

size_t hf_gemm_blocks(size_t m, size_t n, size_t k, size_t *block)
{
    return cut(m, n, k, HF_GEMM_SPLIT_FLOPS, block);
}

/* The job that runs product p cut from `unit` multiply-adds; returns its
 * blocks. */
static size_t job_of(const hf_blas *blas, const hf_product *p, gemm_job *j, size_t unit)
{
    size_t block;
    const size_t blocks = cut(p->m, p->n, p->k, unit, &block);
    *j = (gemm_job){blas, p->ta, p->tb, p->m >= p->n, p->m, p->n, p->k, block, p->lda,
                    p->ldb, p->ldc, p->alpha, p->beta, p->a, p->b, p->c};
    return blocks;
}

void hf_gemm(const hf_blas *blas, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
             const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
             size_t ldc)
{
    const hf_product p = {ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    hf_gemm_pair(blas, &p, NULL);
}

typedef struct pair_job {
    gemm_job first, second;
    size_t first_blocks;
} pair_job;

static void pair_block(void *ctx, size_t t)
{
    const pair_job *j = ctx;
    if (t < j->first_blocks)
        gemm_piece(&j->first, t);
    else
        gemm_piece(&j->second, t - j->first_blocks);
}

void hf_gemm_pair(const hf_blas *blas, const hf_product *p, const hf_product *q)
{
    if (p == NULL) {
        p = q;
        q = NULL;
    }
    if (p == NULL)
        return;
    pair_job j;
    j.first_blocks = job_of(blas, p, &j.first,
                            q == NULL ? HF_GEMM_SPLIT_FLOPS : HF_GEMM_PAIR_SPLIT_FLOPS);
    if (q == NULL) { /* one product: hf_gemm */
        if (j.first_blocks == 1)
            gemm_block(&j.first, 0);
        else
            hf_pool_run(j.first_blocks, gemm_block, &j.first);
        return;
    }
    const size_t second_blocks = job_of(blas, q, &j.second, HF_GEMM_PAIR_SPLIT_FLOPS);
    /* Two small products: waking a thread would cost more than it saves. */
    if (p->m * p->n * p->k + q->m * q->n * q->k < HF_GEMM_SPLIT_FLOPS) {
        gemm_block(&j.first, 0);
        gemm_block(&j.second, 0);
        return;
    }
    hf_pool_run(j.first_blocks + second_blocks, pair_block, &j);
}
