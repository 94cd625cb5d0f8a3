#include "hf_metric.h"

#include <math.h>

hf_status hf_metric_update(int kind, const hf_rows *y, const float *pred, size_t n, size_t k,
                           float *state)
{
    if (!hf_metric_valid(kind))
        return HF_ERR_KIND;
    if (k == 0 || y->width != hf_metric_y_width(kind, k))
        return HF_ERR_SHAPE;
    hf_status st = HF_OK;
    double sum = 0.0;
    if (kind == HF_METRIC_MSE || kind == HF_METRIC_MAE) {
        /* The common regression metrics, without a per-row dispatch. */
        const int sq = kind == HF_METRIC_MSE;
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
        sum += hf_metric_row(kind, hf_row(y, i), pred + i * k, k, &st);
        if (st != HF_OK)
            return st;
    }
    state[0] += (float)sum;
    state[1] += (float)n;
    return HF_OK;
}
