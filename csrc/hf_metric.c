#include "hf_metric.h"

#include <math.h>

/* The loss a loss-named metric evaluates per sample. */
static hf_loss_spec loss_of(const hf_metric_spec *m)
{
    hf_loss_spec s = hf_loss_spec_of(m->kind); /* metric ids 0-4 match loss ids 0-4 */
    s.from_logits = m->from_logits;
    s.label_smoothing = m->label_smoothing;
    return s;
}

size_t hf_metric_state_floats(const hf_metric_spec *m, size_t k)
{
    (void)m;
    (void)k;
    return 2;
}

hf_status hf_metric_spec_check(const hf_metric_spec *m, size_t k)
{
    if (!hf_metric_valid(m->kind) || k == 0)
        return HF_ERR_KIND;
    if (m->kind <= HF_METRIC_SCCE) {
        hf_loss_spec s = loss_of(m);
        return hf_loss_spec_check(&s);
    }
    if (m->kind == HF_METRIC_BINARY_ACCURACY && !isfinite(m->threshold))
        return HF_ERR_KIND;
    return HF_OK;
}

/* Per-sample value of one row of a mean metric. */
static inline float metric_row(const hf_metric_spec *m, const hf_loss_spec *ls, const float *t,
                               const float *p, size_t k, hf_status *st)
{
    switch (m->kind) {
    case HF_METRIC_BINARY_ACCURACY: {
        float hits = 0.0f;
        for (size_t j = 0; j < k; j++)
            hits += ((p[j] > m->threshold ? 1.0f : 0.0f) == t[j]) ? 1.0f : 0.0f;
        return hits / (float)k;
    }
    case HF_METRIC_CATEGORICAL_ACCURACY:
        return hf_argmax(t, k) == hf_argmax(p, k) ? 1.0f : 0.0f;
    case HF_METRIC_SPARSE_CATEGORICAL_ACCURACY:
        /* Compares the label as a float, as Keras does; reads no index. */
        return (float)hf_argmax(p, k) == t[0] ? 1.0f : 0.0f;
    default:
        return hf_loss_row(ls, t, p, k, NULL, 0.0f, st);
    }
}

hf_status hf_metric_accumulate(const hf_metric_spec *m, const hf_rows *y, const hf_rows *sw,
                               const float *pred, size_t n, size_t k, float *state)
{
    hf_status st = hf_metric_spec_check(m, k);
    if (st != HF_OK)
        return st;
    if (y->width != hf_metric_spec_y_width(m, k))
        return HF_ERR_SHAPE;
    const hf_rows *w = m->weighted ? sw : NULL;
    const hf_loss_spec ls = loss_of(m);
    double sum = 0.0, count = 0.0;
    if (w == NULL && (m->kind == HF_METRIC_MSE || m->kind == HF_METRIC_MAE)) {
        /* The common regression metrics, without a per-row dispatch. */
        const int sq = m->kind == HF_METRIC_MSE;
        for (size_t i = 0; i < n; i++) {
            const float *t = hf_row(y, i), *p = pred + i * k;
            float v = 0.0f;
            for (size_t j = 0; j < k; j++) {
                float d = p[j] - t[j];
                v += sq ? d * d : fabsf(d);
            }
            sum += v / (float)k;
        }
        state[0] += (float)sum;
        state[1] += (float)n;
        return HF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        float v = metric_row(m, &ls, hf_row(y, i), pred + i * k, k, &st);
        if (st != HF_OK)
            return st;
        float wi = w ? hf_row(w, i)[0] : 1.0f;
        sum += (double)(wi * v);
        count += (double)wi;
    }
    state[0] += (float)sum;
    state[1] += (float)count;
    return HF_OK;
}

double hf_metric_result(const hf_metric_spec *m, const float *state, size_t k)
{
    (void)m;
    (void)k;
    /* float32 division, as Keras's divide_no_nan(total, count). */
    return state[1] != 0.0f ? (double)(state[0] / state[1]) : 0.0;
}
