#include "hf_dense.h"

#include "hf_activation.h"
#include "hf_pool.h"
#include "hf_simd.h"

/* The bias + activation pass, its derivative and the bias gradient of a
 * large layer run on the pool (hf_pool.h) in fixed pieces: whole rows for
 * the activations (each row's result depends on that row only, softmax
 * included) and whole columns for the column sums (each column still adds
 * its rows in row order), so every cut gives the same bits. Below
 * HF_ELEMENTWISE_SPLIT floats a pass stays one call on the caller's thread:
 * a pool job costs a few microseconds, more than the second thread saves on
 * a pass that short. */
#define HF_ELEMENTWISE_SPLIT 65536
#define HF_ELEMENTWISE_PIECE 16384 /* floats per task, about */

/* Rows per task for an n x k pass (a fixed cut: the shape alone). */
static size_t rows_per_task(size_t n, size_t k, size_t *tasks)
{
    if (n * k < HF_ELEMENTWISE_SPLIT || n < 2) {
        *tasks = 1;
        return n;
    }
    size_t rows = (HF_ELEMENTWISE_PIECE + k - 1) / k;
    *tasks = (n + rows - 1) / rows;
    return rows;
}

typedef struct act_job {
    int act, backward;
    float alpha;
    const float *z, *a, *da, *bias;
    float *zw, *aw, *dz;
    size_t n, k, rows;
} act_job;

static void act_task(void *ctx, size_t t)
{
    const act_job *j = ctx;
    const size_t first = t * j->rows, off = first * j->k;
    const size_t n = hf_piece_len(j->n, j->rows, t);
    if (j->backward)
        hf_act_backward(j->act, j->alpha, j->z ? j->z + off : NULL, j->a + off, j->da + off,
                        j->dz + off, n, j->k);
    else
        hf_act_forward(j->act, j->alpha, j->zw + off, j->aw + off, n, j->k, j->bias);
}

static void act_forward(int act, float alpha, float *z, float *a, size_t n, size_t k,
                        const float *bias)
{
    size_t tasks;
    const size_t rows = rows_per_task(n, k, &tasks);
    if (tasks == 1) {
        hf_act_forward(act, alpha, z, a, n, k, bias);
        return;
    }
    act_job j = {act, 0, alpha, NULL, NULL, NULL, bias, z, a, NULL, n, k, rows};
    hf_pool_run(tasks, act_task, &j);
}

static void act_backward(int act, float alpha, const float *z, const float *a, const float *da,
                         float *dz, size_t n, size_t k)
{
    size_t tasks;
    const size_t rows = rows_per_task(n, k, &tasks);
    if (tasks == 1) {
        hf_act_backward(act, alpha, z, a, da, dz, n, k);
        return;
    }
    act_job j = {act, 1, alpha, z, a, da, NULL, NULL, NULL, dz, n, k, rows};
    hf_pool_run(tasks, act_task, &j);
}

hf_status hf_dense_forward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                           const float *b, int act, float alpha, float *z, float *a, size_t n,
                           size_t din, size_t dout)
{
    if (!hf_act_valid(act))
        return HF_ERR_KIND;
    if (n == 0 || din == 0 || dout == 0)
        return HF_ERR_SHAPE;
    if (hf_act_needs_z(act) && z == NULL)
        return HF_ERR_SHAPE;
    float *pre = z != NULL ? z : a;
    hf_gemm(blas, 0, 0, n, dout, din, 1.0f, x, ldx, w, dout, 0.0f, pre, dout);
    act_forward(act, alpha, pre, a, n, dout, b);
    return HF_OK;
}

HF_HOT void hf_column_sums(const float *restrict x, size_t ldx, size_t n, size_t k,
                           float *restrict out)
{
    for (size_t j = 0; j < k; j++)
        out[j] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        HF_SIMD
        for (size_t j = 0; j < k; j++)
            out[j] += r[j];
    }
}

typedef struct sums_job {
    const float *x;
    size_t n, k, cols;
    float *out;
} sums_job;

static void sums_task(void *ctx, size_t t)
{
    const sums_job *j = ctx;
    const size_t first = t * j->cols;
    const size_t w = hf_piece_len(j->k, j->cols, t);
    hf_column_sums(j->x + first, j->k, j->n, w, j->out + first);
}

/* db: the column sums of dz (n x k), by column ranges on the pool when large. */
static void column_sums(const float *dz, size_t n, size_t k, float *db)
{
    if (n * k < HF_ELEMENTWISE_SPLIT || k < 2 * 64) {
        hf_column_sums(dz, k, n, k, db);
        return;
    }
    sums_job j = {dz, n, k, 64, db}; /* 64 columns: whole cache lines per row */
    hf_pool_run((k + 63) / 64, sums_task, &j);
}

hf_status hf_dense_backward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                            const float *z, const float *a, const float *da, float *dz, int act,
                            float alpha, float *dw, float *db, float *dx, int accumulate_dx,
                            size_t n, size_t din, size_t dout)
{
    if (!hf_act_valid(act))
        return HF_ERR_KIND;
    if (n == 0 || din == 0 || dout == 0)
        return HF_ERR_SHAPE;
    if (hf_act_needs_z(act) && z == NULL)
        return HF_ERR_SHAPE;
    act_backward(act, alpha, z, a, da, dz, n, dout);
    /* dW = x^T dz, dx (+)= dz W^T (independent: one pool job), db = column
     * sums of dz. */
    const hf_product pw = {1, 0, din, dout, n, 1.0f, x, ldx, dz, dout, 0.0f, dw, dout};
    const hf_product px = {0, 1, n, din, dout, 1.0f, dz, dout, w, dout,
                           accumulate_dx ? 1.0f : 0.0f, dx, din};
    hf_gemm_pair(blas, dw != NULL ? &pw : NULL, dx != NULL ? &px : NULL);
    if (db != NULL)
        column_sums(dz, n, dout, db);
    return HF_OK;
}
