/* Losses, each giving the value and dL/dy_pred in one pass, with Keras 2's
 * (tf-keras) formulas and reduction: a per-sample value l_i (a mean over the
 * last axis for MSE/MAE/BCE, a sum for CCE/SCCE), then
 *   L = sum_i w_i * l_i / N   (HF_REDUCE_SUM_OVER_BATCH_SIZE, the default)
 *   L = sum_i w_i * l_i       (HF_REDUCE_SUM)
 * with w_i = 1 without sample weights.
 *
 * A loss is described by an hf_loss_spec (the contract with the network in
 * NUMERICS_SPEC.md): its kind plus the settings Keras's loss objects take. */
#ifndef HF_LOSS_H
#define HF_LOSS_H

#include <math.h>
#include <stddef.h>

#include "hf_rows.h"
#include "hf_status.h"

enum {
    HF_LOSS_MSE = 0,
    HF_LOSS_MAE = 1,
    HF_LOSS_BCE = 2,
    HF_LOSS_CCE = 3,
    HF_LOSS_SCCE = 4,
    HF_LOSS_HUBER = 5,
    HF_LOSS_LOG_COSH = 6,
    HF_LOSS_HINGE = 7,
    HF_LOSS_SQUARED_HINGE = 8,
    HF_LOSS_CATEGORICAL_HINGE = 9,
    HF_LOSS_KLD = 10,
    HF_LOSS_POISSON = 11,
    HF_LOSS_MAPE = 12,
    HF_LOSS_MSLE = 13,
    HF_LOSS_COSINE = 14
};
#define HF_LOSS_N_KINDS 15

enum { HF_REDUCE_SUM_OVER_BATCH_SIZE = 0, HF_REDUCE_SUM = 1 };

typedef struct hf_loss_spec {
    int kind;              /* HF_LOSS_* */
    int from_logits;       /* BCE/CCE/SCCE: pred holds logits (stable log-sum-exp path) */
    float label_smoothing; /* BCE/CCE, in [0, 1] */
    float delta;           /* Huber (unused by the other kinds) */
    int reduction;         /* HF_REDUCE_* */
} hf_loss_spec;

/* Keras's backend.epsilon(), the clipping bound for probabilities. */
#define HF_EPS 1e-7f

static inline int hf_loss_valid(int kind) { return kind >= 0 && kind < HF_LOSS_N_KINDS; }

/* Width of y_true for a prediction of width k: SCCE holds one class id. */
static inline size_t hf_loss_y_width(int kind, size_t k) { return kind == HF_LOSS_SCCE ? 1 : k; }

static inline size_t hf_loss_spec_y_width(const hf_loss_spec *s, size_t k)
{
    return hf_loss_y_width(s->kind, k);
}

/* HF_OK, or HF_ERR_KIND for an unknown kind/reduction or a setting out of range. */
hf_status hf_loss_spec_check(const hf_loss_spec *s);

/* A spec with Keras's defaults for kind (probabilities, no smoothing). */
static inline hf_loss_spec hf_loss_spec_of(int kind)
{
    hf_loss_spec s = {kind, 0, 0.0f, 1.0f, HF_REDUCE_SUM_OVER_BATCH_SIZE};
    return s;
}

/* The factor of each w_i * l_i in the batch loss over n rows. */
static inline float hf_loss_batch_scale(const hf_loss_spec *s, size_t n)
{
    return s->reduction == HF_REDUCE_SUM ? 1.0f : 1.0f / (float)n;
}

/* clip_by_value(p, eps, 1 - eps); NaN stays NaN. */
static inline float hf_clip_prob(float p)
{
    const float hi = 1.0f - HF_EPS;
    return p < HF_EPS ? HF_EPS : (p > hi ? hi : p);
}

/* The gradient of clip_by_value passes only inside [lo, hi]. */
static inline float hf_clip_pass(float p) { return (p >= HF_EPS && p <= 1.0f - HF_EPS) ? 1.0f : 0.0f; }

/* A sparse label as a class index, or -1 when it is not one of [0, k). */
static inline long hf_label(float t, size_t k)
{
    if (!(t >= 0.0f && t < (float)k))
        return -1;
    return (long)t; /* Keras casts labels to integers: truncation */
}

/* The smoothed target (tf-keras: BCE pulls toward 0.5, CCE toward 1/k). */
static inline float hf_smooth(float t, float ls, float toward) { return t * (1.0f - ls) + ls * toward; }

/* log(1 + exp(x)) without overflow. */
static inline float hf_softplus(float x) { return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x))); }

static inline float hf_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* max(p) and log(sum(exp(p - max))): the pieces of a stable log-softmax. */
static inline float hf_log_sum_exp(const float *p, size_t k, float *max_out)
{
    float m = p[0];
    for (size_t j = 1; j < k; j++)
        m = p[j] > m ? p[j] : m;
    float s = 0.0f;
    for (size_t j = 0; j < k; j++)
        s += expf(p[j] - m);
    *max_out = m;
    return logf(s);
}

/* Binary crossentropy, mean over the k outputs of one row. */
static inline float hf_bce_row(const hf_loss_spec *s, const float *t, const float *p, size_t k,
                               float *g, float scale)
{
    float v = 0.0f;
    for (size_t j = 0; j < k; j++) {
        float tj = hf_smooth(t[j], s->label_smoothing, 0.5f);
        if (s->from_logits) {
            /* sigmoid_cross_entropy_with_logits: max(x, 0) - x t + log(1 + exp(-|x|));
             * exp(-|x|) is also the exponential hf_sigmoid(x) takes, so the
             * gradient reuses it (the same bits, one expf fewer per output). */
            float x = p[j], e = expf(-fabsf(x));
            v += (x > 0.0f ? x : 0.0f) - x * tj + log1pf(e);
            if (g)
                g[j] = scale * (((x >= 0.0f ? 1.0f : e) / (1.0f + e) - tj) / (float)k);
        } else {
            float c = hf_clip_prob(p[j]);
            float a = c + HF_EPS, b = 1.0f - c + HF_EPS;
            v -= tj * logf(a) + (1.0f - tj) * logf(b);
            if (g)
                g[j] = scale * (hf_clip_pass(p[j]) * ((1.0f - tj) / b - tj / a) / (float)k);
        }
    }
    return v / (float)k;
}

/* Categorical crossentropy of one row (a sum over the k classes). */
static inline float hf_cce_row(const hf_loss_spec *s, const float *t, const float *p, size_t k,
                               float *g, float scale)
{
    const float ls = s->label_smoothing, toward = 1.0f / (float)k;
    float v = 0.0f;
    if (s->from_logits) {
        /* softmax_cross_entropy_with_logits: -sum t (x - m - lse);
         * d/dx_j = softmax_j * sum(t) - t_j. */
        float m, lse = hf_log_sum_exp(p, k, &m), tsum = 0.0f;
        for (size_t j = 0; j < k; j++) {
            float tj = hf_smooth(t[j], ls, toward);
            v -= tj * (p[j] - m - lse);
            tsum += tj;
        }
        if (g)
            for (size_t j = 0; j < k; j++)
                g[j] = scale * (expf(p[j] - m - lse) * tsum - hf_smooth(t[j], ls, toward));
        return v;
    }
    /* q = p / sum(p), c = clip(q), l = -sum t log c. */
    float sum = 0.0f;
    for (size_t j = 0; j < k; j++)
        sum += p[j];
    float dot = 0.0f;
    for (size_t j = 0; j < k; j++) {
        float tj = hf_smooth(t[j], ls, toward);
        float q = p[j] / sum, c = hf_clip_prob(q);
        v -= tj * logf(c);
        if (g) {
            float u = hf_clip_pass(q) * (-tj / c);
            g[j] = u;
            dot += u * q;
        }
    }
    if (g)
        for (size_t j = 0; j < k; j++)
            g[j] = scale * ((g[j] - dot) / sum);
    return v;
}

/* Sparse categorical crossentropy of one row; *st = HF_ERR_LABEL on a bad id. */
static inline float hf_scce_row(const hf_loss_spec *s, const float *t, const float *p, size_t k,
                                float *g, float scale, hf_status *st)
{
    long lab = hf_label(t[0], k);
    if (lab < 0) {
        *st = HF_ERR_LABEL;
        return 0.0f;
    }
    if (s->from_logits) {
        /* lse(x) - x_label;  d/dx = softmax - onehot. */
        float m, lse = hf_log_sum_exp(p, k, &m);
        if (g) {
            for (size_t j = 0; j < k; j++)
                g[j] = scale * expf(p[j] - m - lse);
            g[lab] -= scale;
        }
        return m + lse - p[lab];
    }
    /* l = -log(c_label / sum(c)) with c = clip(p) (log_softmax of log c). */
    float sum = 0.0f;
    for (size_t j = 0; j < k; j++)
        sum += hf_clip_prob(p[j]);
    float cl = hf_clip_prob(p[lab]);
    if (g) {
        for (size_t j = 0; j < k; j++)
            g[j] = scale * (hf_clip_pass(p[j]) * (1.0f / sum));
        g[lab] -= scale * (hf_clip_pass(p[lab]) / cl);
    }
    return logf(sum) - logf(cl);
}

/* Hinge labels: tf-keras maps {0, 1} labels to {-1, 1}; here a 0 label is
 * read as -1 row by row (the same unless 0s share a batch with labels other
 * than 0 and 1, which hinge losses do not take). */
static inline float hf_hinge_label(float t) { return t == 0.0f ? -1.0f : t; }

/* The element-wise losses that average over the k outputs: value of one
 * element and its derivative with respect to p. */
static inline float hf_elementwise(const hf_loss_spec *s, float t, float p, float *d)
{
    switch (s->kind) {
    case HF_LOSS_HUBER: {
        float e = p - t, a = fabsf(e), dl = s->delta;
        if (a <= dl) {
            *d = e;
            return 0.5f * e * e;
        }
        *d = e > 0.0f ? dl : -dl;
        return dl * a - 0.5f * dl * dl;
    }
    case HF_LOSS_LOG_COSH: {
        float x = p - t;
        *d = tanhf(x);
        return x + hf_softplus(-2.0f * x) - 0.69314718055994531f;
    }
    case HF_LOSS_HINGE: {
        float y = hf_hinge_label(t), m = 1.0f - y * p;
        *d = m > 0.0f ? -y : 0.0f;
        return m > 0.0f ? m : 0.0f;
    }
    case HF_LOSS_SQUARED_HINGE: {
        float y = hf_hinge_label(t), m = 1.0f - y * p;
        m = m > 0.0f ? m : 0.0f;
        *d = -2.0f * y * m;
        return m * m;
    }
    case HF_LOSS_POISSON:
        *d = 1.0f - t / (p + HF_EPS);
        return p - t * logf(p + HF_EPS);
    case HF_LOSS_MAPE: {
        float den = fabsf(t) > HF_EPS ? fabsf(t) : HF_EPS, e = p - t;
        *d = 100.0f * (float)((e > 0.0f) - (e < 0.0f)) / den;
        return 100.0f * fabsf(t - p) / den;
    }
    case HF_LOSS_MSLE: {
        float pc = p > HF_EPS ? p : HF_EPS, tc = t > HF_EPS ? t : HF_EPS;
        float e = logf(pc + 1.0f) - logf(tc + 1.0f);
        *d = p > HF_EPS ? 2.0f * e / (pc + 1.0f) : 0.0f;
        return e * e;
    }
    default:
        *d = 0.0f;
        return 0.0f;
    }
}

/* max(sum x^2, 1e-12)^-1/2, tf.math.l2_normalize's factor. */
static inline float hf_l2_inv(const float *x, size_t k)
{
    float s = 0.0f;
    for (size_t j = 0; j < k; j++)
        s += x[j] * x[j];
    return 1.0f / sqrtf(s > 1e-12f ? s : 1e-12f);
}

/* Cosine similarity of one row (the loss is its negative). */
static inline float hf_cosine_row(const float *t, const float *p, size_t k, float *g, float scale)
{
    const float it = hf_l2_inv(t, k), ip = hf_l2_inv(p, k);
    float c = 0.0f, s = 0.0f;
    for (size_t j = 0; j < k; j++) {
        c += (t[j] * it) * (p[j] * ip);
        s += p[j] * p[j];
    }
    if (g) {
        /* d(-c)/dp = -(t^ - c p^) / |p| while |p|^2 > 1e-12, else -t^ ip */
        const float proj = s > 1e-12f ? c : 0.0f;
        for (size_t j = 0; j < k; j++)
            g[j] = scale * (-(t[j] * it - proj * p[j] * ip) * ip);
    }
    return -c;
}

/* Categorical hinge of one row: max(max_j (1 - t_j) p_j - sum t p + 1, 0). */
static inline float hf_categorical_hinge_row(const float *t, const float *p, size_t k, float *g,
                                             float scale)
{
    float pos = 0.0f, neg = (1.0f - t[0]) * p[0];
    size_t at = 0;
    for (size_t j = 0; j < k; j++) {
        pos += t[j] * p[j];
        float v = (1.0f - t[j]) * p[j];
        if (v > neg) {
            neg = v;
            at = j;
        }
    }
    float m = neg - pos + 1.0f;
    if (g) {
        for (size_t j = 0; j < k; j++)
            g[j] = m > 0.0f ? -scale * t[j] : 0.0f;
        if (m > 0.0f)
            g[at] += scale * (1.0f - t[at]);
    }
    return m > 0.0f ? m : 0.0f;
}

/* KL divergence of one row: sum t log(t / p), both clipped to [eps, 1]. */
static inline float hf_kld_row(const float *t, const float *p, size_t k, float *g, float scale)
{
    float v = 0.0f;
    for (size_t j = 0; j < k; j++) {
        float tc = t[j] < HF_EPS ? HF_EPS : (t[j] > 1.0f ? 1.0f : t[j]);
        float pc = p[j] < HF_EPS ? HF_EPS : (p[j] > 1.0f ? 1.0f : p[j]);
        v += tc * logf(tc / pc);
        if (g)
            g[j] = (p[j] >= HF_EPS && p[j] <= 1.0f) ? -scale * tc / pc : 0.0f;
    }
    return v;
}

/* Mean squared error of one row. */
static inline float hf_mse_row(const float *t, const float *p, size_t k, float *g, float scale)
{
    float v = 0.0f;
    for (size_t j = 0; j < k; j++) {
        float d = p[j] - t[j];
        v += d * d;
        if (g)
            g[j] = scale * (2.0f * d / (float)k);
    }
    return v / (float)k;
}

/* hf_loss_row for every kind; see below. */
static inline float hf_loss_row_any(const hf_loss_spec *s, const float *t, const float *p,
                                    size_t k, float *g, float scale, hf_status *st)
{
    float v = 0.0f;
    switch (s->kind) {
    case HF_LOSS_MSE:
        return hf_mse_row(t, p, k, g, scale);
    case HF_LOSS_MAE:
        for (size_t j = 0; j < k; j++) {
            float d = p[j] - t[j];
            v += fabsf(d);
            if (g)
                g[j] = scale * ((float)((d > 0.0f) - (d < 0.0f)) / (float)k);
        }
        return v / (float)k;
    case HF_LOSS_BCE:
        return hf_bce_row(s, t, p, k, g, scale);
    case HF_LOSS_CCE:
        return hf_cce_row(s, t, p, k, g, scale);
    case HF_LOSS_SCCE:
        return hf_scce_row(s, t, p, k, g, scale, st);
    case HF_LOSS_CATEGORICAL_HINGE:
        return hf_categorical_hinge_row(t, p, k, g, scale);
    case HF_LOSS_KLD:
        return hf_kld_row(t, p, k, g, scale);
    case HF_LOSS_COSINE:
        return hf_cosine_row(t, p, k, g, scale);
    case HF_LOSS_HUBER:
    case HF_LOSS_LOG_COSH:
    case HF_LOSS_HINGE:
    case HF_LOSS_SQUARED_HINGE:
    case HF_LOSS_POISSON:
    case HF_LOSS_MAPE:
    case HF_LOSS_MSLE:
        for (size_t j = 0; j < k; j++) {
            float d;
            v += hf_elementwise(s, t[j], p[j], &d);
            if (g)
                g[j] = scale * d / (float)k;
        }
        return v / (float)k;
    default:
        *st = HF_ERR_KIND;
        return 0.0f;
    }
}

/* Per-sample loss of one row t (width hf_loss_spec_y_width), p (width k).
 * When g is not NULL, g[j] = scale * dl/dp_j. Sets *st on a bad label.
 * The whole switch is too large for the compiler to inline in a loop over
 * rows, which then paid a call per row (0.4 us of a 9 us Dense(1) batch of
 * 128 rows, measured); the commonest loss is decided here, in line. */
HF_ALWAYS_INLINE float hf_loss_row(const hf_loss_spec *s, const float *t, const float *p, size_t k,
                                   float *g, float scale, hf_status *st)
{
    if (s->kind == HF_LOSS_MSE)
        return hf_mse_row(t, p, k, g, scale);
    return hf_loss_row_any(s, t, p, k, g, scale, st);
}

/* Batch loss over n rows: y rows from *y (width hf_loss_spec_y_width),
 * weights from *sw (width 1) or none when sw is NULL, predictions pred
 * (n x k). Writes dL/dpred into grad (n x k) when grad is not NULL. */
hf_status hf_loss_eval(const hf_loss_spec *s, const hf_rows *y, const hf_rows *sw,
                       const float *pred, size_t n, size_t k, float *grad, double *value);

/* Per-sample values l_i (reduction "none"), no gradient: out has n floats. */
hf_status hf_loss_per_sample(const hf_loss_spec *s, const hf_rows *y, const float *pred, size_t n,
                             size_t k, float *out);

#endif
