#include "hf_loss.h"

hf_status hf_loss(int kind, const hf_rows *y, const hf_rows *sw, const float *pred, size_t n,
                  size_t k, float *grad, double *value)
{
    if (!hf_loss_valid(kind))
        return HF_ERR_KIND;
    if (n == 0 || k == 0 || y->width != hf_loss_y_width(kind, k))
        return HF_ERR_SHAPE;
    hf_status st = HF_OK;
    double sum = 0.0;
    const float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float w = sw ? hf_row(sw, i)[0] : 1.0f;
        float l = hf_loss_row(kind, hf_row(y, i), pred + i * k, k, grad ? grad + i * k : NULL,
                              w * inv_n, &st);
        if (st != HF_OK)
            return st;
        sum += (double)(w * l);
    }
    *value = sum / (double)n;
    return HF_OK;
}
