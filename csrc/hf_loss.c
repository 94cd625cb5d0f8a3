#include "hf_loss.h"

hf_status hf_loss_spec_check(const hf_loss_spec *s)
{
    if (!hf_loss_valid(s->kind))
        return HF_ERR_KIND;
    if (s->reduction != HF_REDUCE_SUM_OVER_BATCH_SIZE && s->reduction != HF_REDUCE_SUM)
        return HF_ERR_KIND;
    if (!(s->label_smoothing >= 0.0f && s->label_smoothing <= 1.0f))
        return HF_ERR_KIND;
    if (!(s->delta > 0.0f) || !isfinite(s->delta))
        return HF_ERR_KIND;
    return HF_OK;
}

/* The rows' weighted losses summed; k is a constant where it is inlined
 * with one (a single output: the loops over k fold away). */
HF_ALWAYS_INLINE hf_status loss_rows(const hf_loss_spec *s, const hf_rows *y, const hf_rows *sw,
                                     const float *pred, size_t n, size_t k, float *grad,
                                     float scale, double *sum)
{
    hf_status st = HF_OK;
    for (size_t i = 0; i < n; i++) {
        float w = sw ? hf_row(sw, i)[0] : 1.0f;
        float l = hf_loss_row(s, hf_row(y, i), pred + i * k, k, grad ? grad + i * k : NULL,
                              w * scale, &st);
        if (st != HF_OK)
            return st;
        *sum += (double)(w * l);
    }
    return HF_OK;
}

hf_status hf_loss_eval(const hf_loss_spec *s, const hf_rows *y, const hf_rows *sw,
                       const float *pred, size_t n, size_t k, float *grad, double *value)
{
    hf_status st = hf_loss_spec_check(s);
    if (st != HF_OK)
        return st;
    if (n == 0 || k == 0 || y->width != hf_loss_spec_y_width(s, k))
        return HF_ERR_SHAPE;
    double sum = 0.0;
    const float scale = hf_loss_batch_scale(s, n);
    st = k == 1 ? loss_rows(s, y, sw, pred, n, 1, grad, scale, &sum)
                : loss_rows(s, y, sw, pred, n, k, grad, scale, &sum);
    if (st != HF_OK)
        return st;
    *value = s->reduction == HF_REDUCE_SUM ? sum : sum / (double)n;
    return HF_OK;
}

hf_status hf_loss_per_sample(const hf_loss_spec *s, const hf_rows *y, const float *pred, size_t n,
                             size_t k, float *out)
{
    hf_status st = hf_loss_spec_check(s);
    if (st != HF_OK)
        return st;
    if (n == 0 || k == 0 || y->width != hf_loss_spec_y_width(s, k))
        return HF_ERR_SHAPE;
    for (size_t i = 0; i < n; i++) {
        out[i] = hf_loss_row(s, hf_row(y, i), pred + i * k, k, NULL, 0.0f, &st);
        if (st != HF_OK)
            return st;
    }
    return HF_OK;
}
