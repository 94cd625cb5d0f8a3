#include "hf_dense1.h"

#include <stdint.h>

#include "hf_activation.h"
#include "hf_logits.h"
#include "hf_loss.h"
#include "hf_simd.h"

/* Dot products keep several partial sums per row: one vector accumulator
 * would make every FMA wait for the previous one (a latency-bound chain,
 * slower than memory). Rows go in pairs so each load of w serves two rows
 * and each read-modify-write of the gradient adds two rows' terms: on an
 * AVX2 core this took the step from ~16 to ~10 us (measured, 784 inputs). */
#define HF_LANES 16

/* Alignment. When a row is a whole number of 64-byte lines, every row has
 * the same offset inside its first line (NumPy's large arrays start 16 bytes
 * into one). w and the gradient are then moved to scratch at that same
 * offset, and the vector loops start at the first line boundary (j0), so no
 * load splits a cache line: 25-30% faster than split loads, measured. */
typedef struct plan {
    const float *w; /* w, or its copy at the rows' offset */
    float *g;       /* where the gradient is summed */
    size_t j0;      /* first index of the aligned loops */
} plan;

static plan make_plan(const hf_rows *x, size_t d, const float *w, float *gw, float *scratch)
{
    plan p = {w, gw, 0};
    const uintptr_t addr = (uintptr_t)x->base;
    if (scratch == NULL || d % HF_LANES != 0 || addr % sizeof(float) != 0)
        return p;
    size_t m = (addr / sizeof(float)) % HF_LANES; /* the rows' offset, in floats */
    if (m == 0)
        return p;
    /* First 64-byte boundary in scratch, then the same offset m. */
    float *base = scratch + (HF_LANES - ((uintptr_t)scratch / sizeof(float)) % HF_LANES) % HF_LANES;
    float *ws = base + m, *gs = base + d + HF_LANES + m;
    for (size_t j = 0; j < d; j++)
        ws[j] = w[j];
    p.w = ws;
    p.g = gw ? gs : NULL;
    p.j0 = HF_LANES - m;
    return p;
}

static inline float lanes_total(const float *acc, float tail)
{
    float s = tail;
    for (size_t l = 0; l < HF_LANES; l++)
        s += acc[l];
    return s;
}

/* z0 = u0 . v (and z1 = u1 . v when u1 is not NULL), vector loops from j0.
 * When pf0/pf1 are not NULL, their rows are prefetched, a line per chunk. */
HF_HOT static void dot2(const float *restrict u0, const float *restrict u1,
                        const float *restrict v, size_t d, size_t j0, float *z0, float *z1,
                        const float *pf0, const float *pf1)
{
    float a0[HF_LANES] = {0.0f}, a1[HF_LANES] = {0.0f};
    float t0 = 0.0f, t1 = 0.0f;
    size_t j = j0;
    if (u1 == NULL) {
        for (size_t t = 0; t < j0; t++)
            t0 += u0[t] * v[t];
        for (; j + HF_LANES <= d; j += HF_LANES) {
            HF_SIMD
            for (size_t l = 0; l < HF_LANES; l++)
                a0[l] += u0[j + l] * v[j + l];
        }
        for (size_t t = j; t < d; t++)
            t0 += u0[t] * v[t];
        *z0 = lanes_total(a0, t0);
        return;
    }
    for (size_t t = 0; t < j0; t++) {
        t0 += u0[t] * v[t];
        t1 += u1[t] * v[t];
    }
    for (; j + HF_LANES <= d; j += HF_LANES) {
        if (pf0 != NULL) {
            HF_PREFETCH(pf0 + j);
            HF_PREFETCH(pf1 + j);
        }
        HF_SIMD
        for (size_t l = 0; l < HF_LANES; l++) {
            const float vl = v[j + l];
            a0[l] += u0[j + l] * vl;
            a1[l] += u1[j + l] * vl;
        }
    }
    for (size_t t = j; t < d; t++) {
        t0 += u0[t] * v[t];
        t1 += u1[t] * v[t];
    }
    *z0 = lanes_total(a0, t0);
    *z1 = lanes_total(a1, t1);
}

/* Everything a row needs after its dot product z: the output a_i, the loss,
 * and r_i = dL/dz_i (the factor of x_i in the weight gradient). */
typedef struct row_ctx {
    const hf_rows *y, *sw;
    int act;
    int logits; /* the loss is taken from z (tf-keras's substitution, hf_logits.h) */
    const hf_loss_spec *loss;
    float bias, inv_n;
    float *a;
    double lsum;
    float gbias;
    hf_status st;
} row_ctx;

HF_ALWAYS_INLINE float finish_row(row_ctx *c, size_t i, float z)
{
    float zi = z + c->bias, ai = hf_act1(c->act, zi);
    float wi = c->sw ? hf_row(c->sw, i)[0] : 1.0f;
    float dl = 0.0f;
    float li = hf_loss_row(c->loss, hf_row(c->y, i), c->logits ? &zi : &ai, 1, &dl,
                           wi * c->inv_n, &c->st);
    c->lsum += (double)(wi * li);
    c->a[i] = ai;
    float r = c->logits ? dl : dl * hf_dact1(c->act, ai);
    c->gbias += r;
    return r;
}

/* g += r0 xa + r1 xb (xb may be NULL) over all d, vector loop from j0. */
HF_HOT static void add_rows(float *restrict g, float r0, const float *restrict xa, float r1,
                            const float *restrict xb, size_t d)
{
    if (xb == NULL) {
        HF_SIMD
        for (size_t j = 0; j < d; j++)
            g[j] += r0 * xa[j];
        return;
    }
    HF_SIMD
    for (size_t j = 0; j < d; j++)
        g[j] += r0 * xa[j] + r1 * xb[j];
}

/* Software-pipelined over row pairs: while rows i, i+1 add r x to the
 * gradient, the same loop computes the dot products of rows i+2, i+3, so
 * each row streams from memory once. */
HF_HOT hf_status hf_dense1_train(const hf_rows *x, const hf_rows *y, const hf_rows *sw, size_t n,
                                 size_t d, const float *w_in, const float *b, int act,
                                 const hf_loss_spec *loss,
                                 float *gw, float *gb, float *a, double *loss_value, float *scratch)
{
    if (!hf_act1_supported(act) || hf_loss_spec_check(loss) != HF_OK)
        return HF_ERR_KIND;
    if (n == 0 || d == 0 || x->width != d || y->width != 1)
        return HF_ERR_SHAPE;
    hf_loss_spec on_logits = *loss;
    on_logits.from_logits = 1;
    const int logits = hf_logits_substitute(loss->kind, act);
    row_ctx c = {y, sw, act, logits, logits ? &on_logits : loss, b ? b[0] : 0.0f,
                 hf_loss_batch_scale(loss, n), a, 0.0, 0.0f, HF_OK};
    const plan pl = make_plan(x, d, w_in, gw, scratch);
    const float *restrict w = pl.w;
    float *restrict g = pl.g;
    const size_t j0 = pl.j0;
    for (size_t j = 0; j < d; j++)
        g[j] = 0.0f;

    float z0 = 0.0f, z1 = 0.0f;
    dot2(hf_row(x, 0), n > 1 ? hf_row(x, 1) : NULL, w, d, j0, &z0, &z1, NULL, NULL);
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        const float r0 = finish_row(&c, i, z0), r1 = finish_row(&c, i + 1, z1);
        if (HF_UNLIKELY(c.st != HF_OK))
            return c.st;
        const float *restrict xa = hf_row(x, i);
        const float *restrict xb = hf_row(x, i + 1);
        if (i + 3 >= n) { /* no next pair: finish this one (and an odd row's dot) */
            add_rows(g, r0, xa, r1, xb, d);
            if (i + 2 < n)
                dot2(hf_row(x, i + 2), NULL, w, d, j0, &z0, &z1, NULL, NULL);
            continue;
        }
        const float *restrict xc = hf_row(x, i + 2);
        const float *restrict xd = hf_row(x, i + 3);
        /* Rows read through an order defeat the hardware prefetcher:
         * fetch the pair after next, a cache line per chunk. */
        const int pf = x->order != NULL && i + 5 < n;
        const float *xe = pf ? hf_row(x, i + 4) : NULL, *xf = pf ? hf_row(x, i + 5) : NULL;
        float ac[HF_LANES] = {0.0f}, ad[HF_LANES] = {0.0f};
        float tc = 0.0f, td = 0.0f;
        for (size_t t = 0; t < j0; t++) {
            g[t] += r0 * xa[t] + r1 * xb[t];
            tc += xc[t] * w[t];
            td += xd[t] * w[t];
        }
        size_t j = j0;
        for (; j + HF_LANES <= d; j += HF_LANES) {
            if (pf) {
                HF_PREFETCH(xe + j);
                HF_PREFETCH(xf + j);
            }
            HF_SIMD
            for (size_t l = 0; l < HF_LANES; l++) {
                const float wl = w[j + l];
                g[j + l] += r0 * xa[j + l] + r1 * xb[j + l];
                ac[l] += xc[j + l] * wl;
                ad[l] += xd[j + l] * wl;
            }
        }
        for (size_t t = j; t < d; t++) {
            g[t] += r0 * xa[t] + r1 * xb[t];
            tc += xc[t] * w[t];
            td += xd[t] * w[t];
        }
        z0 = lanes_total(ac, tc);
        z1 = lanes_total(ad, td);
    }
    if (i < n) { /* an odd last row */
        const float r0 = finish_row(&c, i, z0);
        if (HF_UNLIKELY(c.st != HF_OK))
            return c.st;
        add_rows(g, r0, hf_row(x, i), 0.0f, NULL, d);
    }
    if (g != gw)
        for (size_t j = 0; j < d; j++)
            gw[j] = g[j];
    if (gb)
        gb[0] = c.gbias;
    *loss_value = loss->reduction == HF_REDUCE_SUM ? c.lsum : c.lsum / (double)n;
    return HF_OK;
}

HF_HOT hf_status hf_dense1_forward(const hf_rows *x, size_t n, size_t d, const float *w_in,
                                   const float *b, int act, float *a, float *scratch)
{
    if (!hf_act1_supported(act))
        return HF_ERR_KIND;
    if (n == 0 || d == 0 || x->width != d)
        return HF_ERR_SHAPE;
    const plan pl = make_plan(x, d, w_in, NULL, scratch);
    const float bias = b ? b[0] : 0.0f;
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        float z0, z1;
        const int pf = x->order != NULL && i + 3 < n;
        dot2(hf_row(x, i), hf_row(x, i + 1), pl.w, d, pl.j0, &z0, &z1,
             pf ? hf_row(x, i + 2) : NULL, pf ? hf_row(x, i + 3) : NULL);
        a[i] = hf_act1(act, z0 + bias);
        a[i + 1] = hf_act1(act, z1 + bias);
    }
    if (i < n) {
        float z0, z1;
        dot2(hf_row(x, i), NULL, pl.w, d, pl.j0, &z0, &z1, NULL, NULL);
        a[i] = hf_act1(act, z0 + bias);
    }
    return HF_OK;
}
