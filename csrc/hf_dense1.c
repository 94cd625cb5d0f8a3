/* clock_gettime under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include "hf_dense1.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "hf_activation.h"
#include "hf_logits.h"
#include "hf_loss.h"
#include "hf_pool.h"
#include "hf_simd.h"

/* Dot products keep several partial sums per row: one vector accumulator
 * would make every FMA wait for the previous one (a latency-bound chain,
 * slower than memory). Training adds the rows' gradient terms a pair at a
 * time, so each read-modify-write of the gradient adds at least two rows'
 * terms: on an AVX2 core this took the step from ~16 to ~10 us (measured,
 * 784 inputs); the fused walk adds two pairs per read-modify-write. Each
 * row's dot product has 16 partial sums in training (HF_LANES) and 8 in
 * inference (HF_QUAD_LANES), whichever walk computes it. */
#define HF_LANES 16

/* Alignment. When a row is a whole number of 32-byte blocks, every row has
 * the same offset inside its first block (NumPy's arrays start 0, 16, 32 or
 * 48 bytes into a 64-byte line; its large ones 16). w and the gradient are
 * then moved to scratch at that same offset, and the vector loops start at
 * the first block boundary (j0), so no 256-bit load splits a cache line:
 * 25-30% faster than split loads, measured. Blocks of 32 bytes rather than
 * whole lines: rows 32 bytes into a line then need no scalar columns before
 * the loops, which took 0.6-1.1 us off a 128 x 784 training batch (8.8-9.3
 * -> 8.1-8.2 us, a C probe on a Zen 4 core). */
#define HF_ALIGN 8
typedef struct plan {
    const float *w; /* w, or its copy at the rows' offset */
    float *g;       /* where the gradient is summed */
    size_t j0;      /* first index of the aligned loops */
} plan;

static plan make_plan(const hf_rows *x, size_t d, const float *w, float *gw, float *scratch)
{
    plan p = {w, gw, 0};
    const uintptr_t addr = (uintptr_t)x->base;
    if (scratch == NULL || d % HF_ALIGN != 0 || addr % sizeof(float) != 0)
        return p;
    size_t m = (addr / sizeof(float)) % HF_ALIGN; /* the rows' offset, in floats */
    if (m == 0)
        return p;
    /* First 64-byte boundary in scratch, then the same offset m. */
    float *base = scratch + (HF_LANES - ((uintptr_t)scratch / sizeof(float)) % HF_LANES) % HF_LANES;
    float *ws = base + m, *gs = base + d + HF_LANES + m;
    for (size_t j = 0; j < d; j++)
        ws[j] = w[j];
    p.w = ws;
    p.g = gw ? gs : NULL;
    p.j0 = HF_ALIGN - m;
    return p;
}

static inline float lanes_total(const float *acc, float tail)
{
    float s = tail;
    for (size_t l = 0; l < HF_LANES; l++)
        s += acc[l];
    return s;
}

/* z0 = u0 . v (and z1 = u1 . v when u1 is not NULL), vector loops from j0. */
HF_HOT static void dot2(const float *restrict u0, const float *restrict u1,
                        const float *restrict v, size_t d, size_t j0, float *z0, float *z1)
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

/* z[r] = u[r] . v for four rows, vector loops from j0: ``lanes`` partial
 * sums per row (a constant where it is inlined: HF_QUAD_LANES in inference,
 * HF_LANES in training, where each row's sums are then dot2's). Inference
 * has no gradient to add, so nothing but the dot products limits it; four
 * rows give eight independent FMA chains and one load of v serves four rows.
 * dot2's two chains per row wait on the FMA latency: 6.0 against 5.2 us per
 * 128 rows of 784 on a Zen 4 core, where reading the rows alone takes 4.7
 * (in order, from L3; a C probe). When pf is not NULL, the four rows it
 * points to are prefetched, a line per 16 columns. whole (a constant where
 * it is inlined): the vector loop covers every column (j0 == 0, d a
 * multiple of lanes), so no scalar loop is compiled around it (as in
 * rows_pipelined_as; 4.90-4.94 -> 4.62-4.72 us per 128 rows of 784 read in
 * order, rows at other offsets unchanged). */
#define HF_QUAD_LANES 8
HF_ALWAYS_INLINE void dot4(const float *const u[4], const float *restrict v, size_t d, size_t j0,
                           float z[4], const float *const *pf, const int whole, const size_t lanes)
{
    const float *restrict u0 = u[0], *restrict u1 = u[1], *restrict u2 = u[2],
                          *restrict u3 = u[3];
    float a0[HF_LANES] = {0.0f}, a1[HF_LANES] = {0.0f};
    float a2[HF_LANES] = {0.0f}, a3[HF_LANES] = {0.0f};
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
    if (!whole)
        for (size_t t = 0; t < j0; t++) {
            t0 += u0[t] * v[t];
            t1 += u1[t] * v[t];
            t2 += u2[t] * v[t];
            t3 += u3[t] * v[t];
        }
    size_t j = j0;
    for (; j + lanes <= d; j += lanes) {
        if (pf != NULL && (j - j0) % HF_LANES == 0)
            for (size_t r = 0; r < 4; r++)
                HF_PREFETCH(pf[r] + j);
        HF_SIMD
        for (size_t l = 0; l < lanes; l++) {
            const float vl = v[j + l];
            a0[l] += u0[j + l] * vl;
            a1[l] += u1[j + l] * vl;
            a2[l] += u2[j + l] * vl;
            a3[l] += u3[j + l] * vl;
        }
    }
    if (!whole)
        for (size_t t = j; t < d; t++) {
            t0 += u0[t] * v[t];
            t1 += u1[t] * v[t];
            t2 += u2[t] * v[t];
            t3 += u3[t] * v[t];
        }
    for (size_t l = 0; l < lanes; l++) {
        t0 += a0[l];
        t1 += a1[l];
        t2 += a2[l];
        t3 += a3[l];
    }
    z[0] = t0;
    z[1] = t1;
    z[2] = t2;
    z[3] = t3;
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

/* plain (a constant where it is inlined): the layer is linear, the loss a
 * mean squared error, without sample weights (the tutorial's case, see
 * plain_rows). The same operations then, with their choices decided. */
HF_ALWAYS_INLINE float finish_row(row_ctx *c, size_t i, float z, const int plain)
{
    const int act = plain ? HF_ACT_LINEAR : c->act;
    float zi = z + c->bias, ai = hf_act1(act, zi);
    float wi = !plain && c->sw ? hf_row(c->sw, i)[0] : 1.0f;
    float dl = 0.0f;
    float li = plain ? hf_mse_row(hf_row(c->y, i), &ai, 1, &dl, wi * c->inv_n)
                     : hf_loss_row(c->loss, hf_row(c->y, i), c->logits ? &zi : &ai, 1, &dl,
                                   wi * c->inv_n, &c->st);
    c->lsum += (double)(wi * li);
    c->a[i] = ai;
    float r = !plain && c->logits ? dl : dl * hf_dact1(act, ai);
    c->gbias += r;
    return r;
}

/* Whether finish_row's plain case holds for c. */
static int plain_rows(const row_ctx *c)
{
    return c->act == HF_ACT_LINEAR && c->sw == NULL && !c->logits && c->loss->kind == HF_LOSS_MSE;
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

/* g[j] += (r[0] u[0][j] + r[1] u[1][j]) + (r[2] u[2][j] + r[3] u[3][j]) for
 * j in [from, to): two row pairs' terms, each pair's as add_rows adds it, in
 * one read-modify-write of g. */
#define HF_QUAD_TERM(j) ((g[j] + (r0 * xa[j] + r1 * xb[j])) + (r2 * xc[j] + r3 * xd[j]))
HF_ALWAYS_INLINE void quad_range(float *restrict g, const float r[4], const float *const u[4],
                                 size_t from, size_t to)
{
    const float *restrict xa = u[0], *restrict xb = u[1], *restrict xc = u[2], *restrict xd = u[3];
    const float r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
    HF_SIMD
    for (size_t j = from; j < to; j++)
        g[j] = HF_QUAD_TERM(j);
}

/* quad_range over all d. The vector loop starts at j0, so that its loads
 * do not split cache lines (left to the compiler, half of them did with
 * rows 16 bytes into a line: 9.3 against 8.1 us per 128 rows of 784, a C
 * probe). When pf is not NULL, the four rows it points to (the next block,
 * in an order that defeats the hardware prefetcher) are fetched, a line per
 * 16 columns, by a loop of its own: this one reads L1 only, and memory
 * would idle. A C probe on a Zen 4 core, each walk passing over 1024
 * shuffled rows of 784 in turn (streamed from L3, as in an epoch), per 128
 * rows 16 / 32 bytes into a line: no fetches 9.0 / 8.1 us, the first four
 * lines of each row 8.6 / 7.8, these 8.1 / 7.2-7.4 (the pipelined walk
 * 8.8 / 7.7); this loop written as quad_range calls 8.5 / 7.8. Fetching the
 * rows in the next block's dot products instead measured slower. */
HF_ALWAYS_INLINE void add_quad(float *restrict g, const float r[4], const float *const u[4], size_t d,
                               size_t j0, const float *const *pf)
{
    quad_range(g, r, u, 0, j0);
    size_t j = j0;
    if (pf != NULL) {
        const float *restrict xa = u[0], *restrict xb = u[1], *restrict xc = u[2], *restrict xd = u[3];
        const float r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
        for (; j + HF_LANES <= d; j += HF_LANES) {
            for (size_t k = 0; k < 4; k++)
                HF_PREFETCH(pf[k] + j);
            HF_SIMD
            for (size_t l = j; l < j + HF_LANES; l++)
                g[l] = HF_QUAD_TERM(l);
        }
    }
    quad_range(g, r, u, j, d);
}
#undef HF_QUAD_TERM

/* The two ways to walk the rows (see hf_dense1.h): both return with the
 * gradient summed in g (zeroed by the caller) and the rows' outputs, loss
 * and bias gradient in c. */

/* Fused one pass, four rows at a time: a block's dot products, then at once
 * its terms of the gradient, while the block (12.5 KB at 784 inputs) is in
 * L1; the rows left over go by pairs and alone. Per row, the arithmetic of
 * rows_pipelined_as (the same bits). whole and plain as there. Four rows
 * rather than two read and write g half as often. A C probe on a Zen 4
 * core (add_quad's), w and g on 64-byte boundaries as the network keeps
 * them: by pairs 11.3 / 9.6 us, by fours 8.1 / 7.2, the pipelined walk
 * 8.8 / 7.7. */
HF_ALWAYS_INLINE hf_status rows_fused_as(const hf_rows *x, size_t n, size_t d, const float *w,
                                         float *g, size_t j0, row_ctx *c, const int whole,
                                         const int plain)
{
    size_t i = 0;
    for (; i + 3 < n; i += 4) {
        const float *u[4] = {hf_row(x, i), hf_row(x, i + 1), hf_row(x, i + 2), hf_row(x, i + 3)};
        float z[4], r[4];
        dot4(u, w, d, j0, z, NULL, whole, HF_LANES);
        for (size_t k = 0; k < 4; k++)
            r[k] = finish_row(c, i + k, z[k], plain);
        if (HF_UNLIKELY(c->st != HF_OK))
            return c->st;
        const float *next[4];
        const int pf = x->order != NULL && i + 7 < n;
        if (pf)
            for (size_t k = 0; k < 4; k++)
                next[k] = hf_row(x, i + 4 + k);
        add_quad(g, r, u, d, j0, pf ? next : NULL);
    }
    for (; i < n; i += 2) { /* a last pair, or row */
        const float *xa = hf_row(x, i), *xb = i + 1 < n ? hf_row(x, i + 1) : NULL;
        float z0, z1 = 0.0f;
        dot2(xa, xb, w, d, j0, &z0, &z1);
        const float r0 = finish_row(c, i, z0, plain);
        const float r1 = xb != NULL ? finish_row(c, i + 1, z1, plain) : 0.0f;
        if (HF_UNLIKELY(c->st != HF_OK))
            return c->st;
        add_rows(g, r0, xa, r1, xb, d);
    }
    return HF_OK;
}

/* Both flags are worth their instantiations here (a C probe, as above):
 * plain 7.7 -> 7.3 us at 32 bytes. */
HF_HOT static hf_status rows_fused(const hf_rows *x, size_t n, size_t d, const float *w, float *g,
                                   size_t j0, row_ctx *c)
{
    if (j0 == 0 && d % HF_LANES == 0)
        return plain_rows(c) ? rows_fused_as(x, n, d, w, g, j0, c, 1, 1)
                             : rows_fused_as(x, n, d, w, g, j0, c, 1, 0);
    return plain_rows(c) ? rows_fused_as(x, n, d, w, g, j0, c, 0, 1)
                         : rows_fused_as(x, n, d, w, g, j0, c, 0, 0);
}

/* Software-pipelined over row pairs: while rows i, i+1 add r x to the
 * gradient, the same loop computes the dot products of rows i+2, i+3, so
 * each row streams from memory once. whole and plain are constants where
 * it is inlined (rows_pipelined): whole, the vector loops cover every column
 * (j0 == 0, d a multiple of HF_LANES), so no scalar loop is compiled around
 * them; plain, see finish_row. Same arithmetic, same bits. */
HF_ALWAYS_INLINE hf_status rows_pipelined_as(const hf_rows *x, size_t n, size_t d, const float *w,
                                             float *g, size_t j0, row_ctx *c, const int whole,
                                             const int plain)
{
    float z0 = 0.0f, z1 = 0.0f;
    dot2(hf_row(x, 0), n > 1 ? hf_row(x, 1) : NULL, w, d, j0, &z0, &z1);
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        const float r0 = finish_row(c, i, z0, plain), r1 = finish_row(c, i + 1, z1, plain);
        if (HF_UNLIKELY(c->st != HF_OK))
            return c->st;
        const float *restrict xa = hf_row(x, i);
        const float *restrict xb = hf_row(x, i + 1);
        if (i + 3 >= n) { /* no next pair: finish this one (and an odd row's dot) */
            add_rows(g, r0, xa, r1, xb, d);
            if (i + 2 < n)
                dot2(hf_row(x, i + 2), NULL, w, d, j0, &z0, &z1);
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
        if (!whole)
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
        if (!whole)
            for (size_t t = j; t < d; t++) {
                g[t] += r0 * xa[t] + r1 * xb[t];
                tc += xc[t] * w[t];
                td += xd[t] * w[t];
            }
        z0 = lanes_total(ac, tc);
        z1 = lanes_total(ad, td);
    }
    if (i < n) { /* an odd last row */
        const float r0 = finish_row(c, i, z0, plain);
        if (HF_UNLIKELY(c->st != HF_OK))
            return c->st;
        add_rows(g, r0, hf_row(x, i), 0.0f, NULL, d);
    }
    return HF_OK;
}

/* Which instantiation runs is measured, not derived (a C probe on a Zen 4
 * core, 128 x 784 batches through a shuffled order): rows 0 or 32 bytes into
 * a line (whole) 8.3-8.5 -> 7.5-7.8 us, rows 16 or 48 bytes in (plain, for
 * the tutorial's linear MSE layer) 9.0-9.5 -> 8.8-9.0 us. Both flags at
 * once measured slower, and so did w and g restrict-qualified at 16 or 48. */
HF_HOT static hf_status rows_pipelined(const hf_rows *x, size_t n, size_t d, const float *w,
                                       float *g, size_t j0, row_ctx *c)
{
    if (j0 == 0 && d % HF_LANES == 0)
        return rows_pipelined_as(x, n, d, w, g, j0, c, 1, 0);
    return plain_rows(c) ? rows_pipelined_as(x, n, d, w, g, j0, c, 0, 1)
                         : rows_pipelined_as(x, n, d, w, g, j0, c, 0, 0);
}

static _Atomic int chosen_variant = HF_DENSE1_PIPELINED;

void hf_dense1_set_variant(int variant)
{
    atomic_store(&chosen_variant, variant == HF_DENSE1_FUSED ? HF_DENSE1_FUSED : HF_DENSE1_PIPELINED);
}

int hf_dense1_variant(void) { return atomic_load(&chosen_variant); }

/* One block of rows (all of a small batch): gw (d) receives its gradient,
 * c its outputs, loss and bias gradient. */
static hf_status train_rows(const hf_rows *x, size_t n, size_t d, const float *w_in, row_ctx *c,
                            float *gw, float *scratch, int variant)
{
    const plan pl = make_plan(x, d, w_in, gw, scratch);
    for (size_t j = 0; j < d; j++)
        pl.g[j] = 0.0f;
    hf_status st = variant == HF_DENSE1_FUSED ? rows_fused(x, n, d, pl.w, pl.g, pl.j0, c)
                                              : rows_pipelined(x, n, d, pl.w, pl.g, pl.j0, c);
    if (pl.g != gw)
        for (size_t j = 0; j < d; j++)
            gw[j] = pl.g[j];
    return st;
}

size_t hf_dense1_blocks(size_t n, size_t *rows)
{
    if (n < HF_DENSE1_SPLIT_ROWS) {
        *rows = n;
        return 1;
    }
    size_t blocks = n / HF_DENSE1_BLOCK_ROWS;
    if (blocks > HF_DENSE1_MAX_BLOCKS)
        blocks = HF_DENSE1_MAX_BLOCKS;
    size_t r = (n + blocks - 1) / blocks;
    r += r & 1; /* whole row pairs */
    *rows = r;
    return (n + r - 1) / r;
}

static hf_rows rows_from(const hf_rows *r, size_t first)
{
    hf_rows s = *r;
    s.start += first;
    return s;
}

/* A large batch cut into fixed blocks of rows (hf_dense1_blocks: the cut
 * depends on n only); each block sums its own gradient, loss and bias
 * gradient, and the caller adds them in block order. */
typedef struct train_job {
    const hf_rows *x, *y, *sw;
    size_t n, d, rows;
    const float *w;
    row_ctx proto;
    float *partials, *scratch;
    int variant;
    double lsum[HF_DENSE1_MAX_BLOCKS];
    float gbias[HF_DENSE1_MAX_BLOCKS];
    hf_status st[HF_DENSE1_MAX_BLOCKS];
} train_job;

static void train_block(void *ctx, size_t t)
{
    train_job *j = ctx;
    const size_t first = t * j->rows;
    const size_t n = hf_piece_len(j->n, j->rows, t);
    const hf_rows x = rows_from(j->x, first), y = rows_from(j->y, first);
    const hf_rows sw = j->sw ? rows_from(j->sw, first) : x;
    row_ctx c = j->proto;
    c.y = &y;
    c.sw = j->sw ? &sw : NULL;
    c.a = j->proto.a + first;
    j->st[t] = train_rows(&x, n, j->d, j->w, &c, j->partials + t * j->d,
                          j->scratch + t * HF_DENSE1_BLOCK_SCRATCH(j->d), j->variant);
    j->lsum[t] = c.lsum;
    j->gbias[t] = c.gbias;
}

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
    const int variant = hf_dense1_variant();
    size_t rows = n;
    const size_t blocks = scratch != NULL ? hf_dense1_blocks(n, &rows) : 1;
    if (blocks == 1) {
        hf_status st = train_rows(x, n, d, w_in, &c, gw, scratch, variant);
        if (st != HF_OK)
            return st;
    } else {
        train_job j = {x, y, sw, n, d, rows, w_in, c, scratch,
                       scratch + HF_DENSE1_MAX_BLOCKS * d, variant, {0.0}, {0.0f}, {HF_OK}};
        hf_pool_run(blocks, train_block, &j);
        for (size_t t = 0; t < blocks; t++)
            if (j.st[t] != HF_OK)
                return j.st[t];
        for (size_t i = 0; i < d; i++)
            gw[i] = j.partials[i];
        for (size_t t = 1; t < blocks; t++) {
            const float *p = j.partials + t * d;
            for (size_t i = 0; i < d; i++)
                gw[i] += p[i];
        }
        for (size_t t = 0; t < blocks; t++) {
            c.lsum += j.lsum[t];
            c.gbias += j.gbias[t];
        }
    }
    if (gb)
        gb[0] = c.gbias;
    *loss_value = loss->reduction == HF_REDUCE_SUM ? c.lsum : c.lsum / (double)n;
    return HF_OK;
}

/* Rows go by fours; the last one to three rows of a batch go through dot4
 * as well, the last row standing in for the missing ones, so each row's
 * output has the same bits wherever it falls in a batch or a block. */
HF_ALWAYS_INLINE void forward_rows_as(const hf_rows *x, size_t n, size_t d, const plan *pl, float bias,
                                      int act, float *a, const int whole)
{
    for (size_t i = 0; i < n; i += 4) {
        const size_t k = n - i < 4 ? n - i : 4;
        const float *u[4], *next[4];
        for (size_t r = 0; r < 4; r++)
            u[r] = hf_row(x, i + (r < k ? r : k - 1));
        const int pf = x->order != NULL && i + 7 < n;
        if (pf)
            for (size_t r = 0; r < 4; r++)
                next[r] = hf_row(x, i + 4 + r);
        float z[4];
        dot4(u, pl->w, d, pl->j0, z, pf ? next : NULL, whole, HF_QUAD_LANES);
        for (size_t r = 0; r < k; r++)
            a[i + r] = hf_act1(act, z[r] + bias);
    }
}

HF_HOT static void forward_rows(const hf_rows *x, size_t n, size_t d, const plan *pl, float bias, int act,
                         float *a)
{
    if (pl->j0 == 0 && d % HF_QUAD_LANES == 0)
        forward_rows_as(x, n, d, pl, bias, act, a, 1);
    else
        forward_rows_as(x, n, d, pl, bias, act, a, 0);
}

/* Blocks of rows of a large forward: each output depends on its row only,
 * so any cut gives the same bits; the cut of training is reused. */
typedef struct forward_job {
    const hf_rows *x;
    size_t n, d, rows;
    const plan *pl;
    float bias;
    int act;
    float *a;
} forward_job;

static void forward_block(void *ctx, size_t t)
{
    const forward_job *j = ctx;
    const size_t first = t * j->rows;
    const size_t n = hf_piece_len(j->n, j->rows, t);
    const hf_rows x = rows_from(j->x, first);
    forward_rows(&x, n, j->d, j->pl, j->bias, j->act, j->a + first);
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
    size_t rows = n;
    const size_t blocks = hf_dense1_blocks(n, &rows);
    if (blocks == 1) {
        forward_rows(x, n, d, &pl, bias, act, a);
        return HF_OK;
    }
    forward_job j = {x, n, d, rows, &pl, bias, act, a};
    hf_pool_run(blocks, forward_block, &j);
    return HF_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Both variants are timed as fit runs them: batches of 128 rows of 784 (16
 * bytes into a cache line, as in NumPy's large arrays) taken in a shuffled
 * order from 1024 rows (3.2 MB: more than a core's L2, so the rows stream
 * from L3 or memory, as in a real epoch). Timed on 128 rows that stay in L1
 * and L2, the variants ranked the other way on a Zen 4 core than on its
 * epochs (the fused walk, by pairs then, 9.9 against 10.0-11.9 us; 11.8
 * against 9.5 us per 128 rows over the 1000-row epoch). Each round passes
 * over the batches once, the variants taking turns batch by batch (so each
 * batch's rows come from L3, as in an epoch); a variant's time is the sum
 * over batches of its best time on each, which resists a neighbour's burst
 * (or a thread busy at import). About 2 ms in all. */
int hf_dense1_calibrate(void)
{
    enum { ROWS = 1024, N = 128, D = 784, ROUNDS = 16 };
    const size_t x_floats = (size_t)ROWS * D + 16;
    const size_t rest = 2 * ROWS + 2 * D + HF_DENSE1_SCRATCH(D);
    float *mem = malloc((x_floats + rest) * sizeof(float));
    int64_t *order = malloc(ROWS * sizeof(int64_t));
    if (mem == NULL || order == NULL) {
        free(mem);
        free(order);
        return hf_dense1_variant();
    }
    float *x = mem + 4, *y = mem + x_floats, *a = y + ROWS, *w = a + ROWS, *g = w + D;
    float *scratch = g + D;
    for (size_t i = 0; i < (size_t)ROWS * D; i++)
        x[i] = (float)((i * 2654435761u) % 1000u) * 1e-3f;
    uint64_t state = 0x9e3779b97f4a7c15u; /* a fixed shuffle (Fisher-Yates on an LCG) */
    for (size_t i = 0; i < ROWS; i++) {
        y[i] = (float)(i % 2);
        order[i] = (int64_t)i;
    }
    for (size_t i = ROWS - 1; i > 0; i--) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        const size_t k = (size_t)(state >> 33) % (i + 1);
        const int64_t t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    for (size_t j = 0; j < D; j++)
        w[j] = 1e-3f * (float)(j % 7);
    const hf_loss_spec loss = hf_loss_spec_of(HF_LOSS_MSE);
    double best[2][ROWS / N];
    for (size_t v = 0; v < 2; v++)
        for (size_t k = 0; k < ROWS / N; k++)
            best[v][k] = 1e30;
    for (size_t r = 0; r < ROUNDS; r++)
        for (size_t k = 0; k < ROWS / N; k++) {
            const size_t v = (k + r) % 2, start = k * N;
            const hf_rows xr = {x, D, order, start}, yr = {y, 1, order, start};
            row_ctx c = {&yr, NULL, HF_ACT_LINEAR, 0, &loss, 0.0f, 1.0f / N, a + start, 0.0,
                         0.0f, HF_OK};
            const double t0 = now_s();
            train_rows(&xr, N, D, w, &c, g, scratch, (int)v);
            const double dt = now_s() - t0;
            best[v][k] = dt < best[v][k] ? dt : best[v][k];
        }
    double total[2] = {0.0, 0.0};
    for (size_t v = 0; v < 2; v++)
        for (size_t k = 0; k < ROWS / N; k++)
            total[v] += best[v][k];
    free(order);
    free(mem);
    const int pick = total[HF_DENSE1_FUSED] < total[HF_DENSE1_PIPELINED] ? HF_DENSE1_FUSED
                                                                        : HF_DENSE1_PIPELINED;
    hf_dense1_set_variant(pick);
    return pick;
}
