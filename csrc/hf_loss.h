/* Losses on probabilities/values, each giving the value and dL/dy_pred in
 * one pass, with Keras's reduction: a per-sample value l_i (mean over the
 * last axis for MSE/MAE/BCE, a sum for CCE/SCCE), then
 * L = sum_i w_i * l_i / N ("sum_over_batch_size"; w_i = 1 without weights). */
#ifndef HF_LOSS_H
#define HF_LOSS_H

#include <math.h>
#include <stddef.h>

#include "hf_rows.h"
#include "hf_status.h"

enum { HF_LOSS_MSE = 0, HF_LOSS_MAE = 1, HF_LOSS_BCE = 2, HF_LOSS_CCE = 3, HF_LOSS_SCCE = 4 };

/* Keras's backend.epsilon(), the clipping bound for probabilities. */
#define HF_EPS 1e-7f

static inline int hf_loss_valid(int kind) { return kind >= HF_LOSS_MSE && kind <= HF_LOSS_SCCE; }

/* Width of y_true for a prediction of width k: SCCE holds one class id. */
static inline size_t hf_loss_y_width(int kind, size_t k) { return kind == HF_LOSS_SCCE ? 1 : k; }

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

/* Per-sample loss of one row t (width hf_loss_y_width), p (width k). When g
 * is not NULL, g[j] = scale * dl/dp_j. Sets *st on a bad label. */
static inline float hf_loss_row(int kind, const float *t, const float *p, size_t k, float *g,
                                float scale, hf_status *st)
{
    float v = 0.0f;
    switch (kind) {
    case HF_LOSS_MSE:
        for (size_t j = 0; j < k; j++) {
            float d = p[j] - t[j];
            v += d * d;
            if (g)
                g[j] = scale * (2.0f * d / (float)k);
        }
        return v / (float)k;
    case HF_LOSS_MAE:
        for (size_t j = 0; j < k; j++) {
            float d = p[j] - t[j];
            v += fabsf(d);
            if (g)
                g[j] = scale * ((float)((d > 0.0f) - (d < 0.0f)) / (float)k);
        }
        return v / (float)k;
    case HF_LOSS_BCE:
        for (size_t j = 0; j < k; j++) {
            float c = hf_clip_prob(p[j]);
            float a = c + HF_EPS, b = 1.0f - c + HF_EPS;
            v -= t[j] * logf(a) + (1.0f - t[j]) * logf(b);
            if (g)
                g[j] = scale * (hf_clip_pass(p[j]) * ((1.0f - t[j]) / b - t[j] / a) / (float)k);
        }
        return v / (float)k;
    case HF_LOSS_CCE: {
        /* q = p / sum(p), c = clip(q), l = -sum t log c. */
        float s = 0.0f;
        for (size_t j = 0; j < k; j++)
            s += p[j];
        float dot = 0.0f;
        for (size_t j = 0; j < k; j++) {
            float q = p[j] / s, c = hf_clip_prob(q);
            v -= t[j] * logf(c);
            if (g) {
                float u = hf_clip_pass(q) * (-t[j] / c);
                g[j] = u;
                dot += u * q;
            }
        }
        if (g)
            for (size_t j = 0; j < k; j++)
                g[j] = scale * ((g[j] - dot) / s);
        return v;
    }
    case HF_LOSS_SCCE: {
        /* l = -log(c_label / sum(c)) with c = clip(p). */
        long lab = hf_label(t[0], k);
        if (lab < 0) {
            *st = HF_ERR_LABEL;
            return 0.0f;
        }
        float s = 0.0f;
        for (size_t j = 0; j < k; j++)
            s += hf_clip_prob(p[j]);
        float cl = hf_clip_prob(p[lab]);
        if (g) {
            for (size_t j = 0; j < k; j++)
                g[j] = scale * (hf_clip_pass(p[j]) * (1.0f / s));
            g[lab] -= scale * (hf_clip_pass(p[lab]) / cl);
        }
        return logf(s) - logf(cl);
    }
    default:
        *st = HF_ERR_KIND;
        return 0.0f;
    }
}

/* Batch loss over n rows: y rows from *y (width hf_loss_y_width(kind, k)),
 * weights from *sw (width 1) or none when sw is NULL, predictions pred
 * (n x k). Writes dL/dpred into grad (n x k) when grad is not NULL. */
hf_status hf_loss(int kind, const hf_rows *y, const hf_rows *sw, const float *pred, size_t n,
                  size_t k, float *grad, double *value);

#endif
