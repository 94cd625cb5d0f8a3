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

/* The rows' weighted losses summed; k and mse are constants where it is
 * inlined (a single output: the loops over k fold away; mse: no call to the
 * other kinds in the loop, which would keep the sum in memory, not in a
 * register). */
HF_ALWAYS_INLINE hf_status loss_rows(const hf_loss_spec *s, const hf_rows *y, const hf_rows *sw,
                                     const float *pred, size_t n, size_t k, int mse, float *grad,
                                     float scale, double *sum)
{
    hf_status st = HF_OK;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        float w = sw ? hf_row(sw, i)[0] : 1.0f;
        const float *t = hf_row(y, i), *p = pred + i * k;
        float *g = grad ? grad + i * k : NULL;
        float l = mse ? hf_mse_row(t, p, k, g, w * scale) : hf_loss_row(s, t, p, k, g, w * scale, &st);
        if (st != HF_OK)
            return st;
        acc += (double)(w * l);
    }
    *sum = acc;
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
    if (k == 1)
        st = s->kind == HF_LOSS_MSE ? loss_rows(s, y, sw, pred, n, 1, 1, grad, scale, &sum)
                                    : loss_rows(s, y, sw, pred, n, 1, 0, grad, scale, &sum);
    else
        st = loss_rows(s, y, sw, pred, n, k, 0, grad, scale, &sum);
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
