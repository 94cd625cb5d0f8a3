#include "hf_optimizer.h"

#include <math.h>
#include <string.h>

#include "hf_simd.h"

/* v = rho v + (1 - rho) g^2;  [a = rho a + (1 - rho) g;  den = v - a^2 + eps]
 * else den = v + eps;  inc = lr g / sqrt(den)  (eps inside the root);
 * momentum: m = momentum m + inc, p -= m;  else p -= inc. */
HF_HOT static void rmsprop(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                           float *restrict v, float *restrict m, float *restrict a, size_t n,
                           float lr)
{
    const float rho = o->rho, one_m_rho = 1.0f - o->rho, eps = o->epsilon, mom = o->momentum;
    if (!o->centered && mom <= 0.0f) {
        HF_SIMD
        for (size_t i = 0; i < n; i++) {
            float vi = rho * v[i] + one_m_rho * (g[i] * g[i]);
            v[i] = vi;
            p[i] -= lr * g[i] / sqrtf(vi + eps);
        }
        return;
    }
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float vi = rho * v[i] + one_m_rho * (g[i] * g[i]);
        v[i] = vi;
        float den = vi + eps;
        if (o->centered) {
            float ai = rho * a[i] + one_m_rho * g[i];
            a[i] = ai;
            den = vi - ai * ai + eps;
        }
        float inc = lr * g[i] / sqrtf(den);
        if (mom > 0.0f) {
            float mi = mom * m[i] + inc;
            m[i] = mi;
            p[i] -= mi;
        } else {
            p[i] -= inc;
        }
    }
}

/* m = momentum m - lr g;  p += m  (nesterov: p += momentum m - lr g);
 * without momentum p -= lr g. */
HF_HOT static void sgd(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                       float *restrict m, size_t n, float lr)
{
    const float mom = o->momentum;
    if (mom <= 0.0f) {
        HF_SIMD
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * g[i];
        return;
    }
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi = mom * m[i] - lr * g[i];
        m[i] = mi;
        p[i] += o->nesterov ? mom * mi - lr * g[i] : mi;
    }
}

/* m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  [vhat = max(vhat, v)]
 * p -= alpha m / (sqrt(v or vhat) + eps), alpha = lr sqrt(1 - b2^t) / (1 - b1^t). */
HF_HOT static void adam(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                        float *restrict m, float *restrict v, float *restrict vh, size_t n,
                        float lr, int64_t iteration)
{
    double t = (double)iteration + 1.0;
    float b1p = (float)pow((double)o->beta_1, t), b2p = (float)pow((double)o->beta_2, t);
    const float alpha = lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
    const float c1 = 1.0f - o->beta_1, c2 = 1.0f - o->beta_2, eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi = m[i] + (g[i] - m[i]) * c1;
        float vi = v[i] + (g[i] * g[i] - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        if (o->amsgrad) {
            vi = vh[i] > vi ? vh[i] : vi;
            vh[i] = vi;
        }
        p[i] -= (mi * alpha) / (sqrtf(vi) + eps);
    }
}

size_t hf_opt_kind_slots(int kind)
{
    switch (kind) {
    case HF_OPT_SGD:
        return 1;
    case HF_OPT_RMSPROP:
    case HF_OPT_ADAM:
        return 3;
    default:
        return 0;
    }
}

size_t hf_opt_n_slots(const hf_opt_spec *o)
{
    return hf_opt_kind_slots(o->kind) + (o->use_ema ? 1 : 0);
}

hf_opt_spec hf_opt_spec_of(int kind)
{
    hf_opt_spec o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.beta_1 = 0.9f;
    o.beta_2 = 0.999f;
    o.epsilon = 1e-7f;
    o.rho = 0.9f;
    o.ema_momentum = 0.99f;
    return o;
}

static int in_unit(float v) { return v >= 0.0f && v <= 1.0f; }

hf_status hf_opt_spec_check(const hf_opt_spec *o)
{
    if (!hf_opt_valid(o->kind))
        return HF_ERR_KIND;
    const float finite[] = {o->beta_1, o->beta_2, o->epsilon, o->rho, o->momentum, o->ema_momentum};
    for (size_t i = 0; i < sizeof finite / sizeof finite[0]; i++)
        if (!isfinite(finite[i]))
            return HF_ERR_KIND;
    if (!in_unit(o->momentum) || !in_unit(o->ema_momentum) || !(o->epsilon >= 0.0f))
        return HF_ERR_KIND;
    if (o->kind == HF_OPT_ADAM && !(in_unit(o->beta_1) && in_unit(o->beta_2)))
        return HF_ERR_KIND;
    if (o->ema_overwrite_frequency < 0)
        return HF_ERR_KIND;
    return HF_OK;
}

static int on(float setting) { return setting > 0.0f; } /* NaN and <= 0: off */

static double sum_squares(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * (double)g[i];
    return s;
}

/* tf-keras's _clip_gradients: clipnorm (each variable, tf.clip_by_norm),
 * else global_clipnorm (tf.clip_by_global_norm), else clipvalue; only the
 * first one set applies. */
static void clip(const hf_opt_spec *o, float *grads, const hf_var *vars, size_t n_vars)
{
    if (on(o->clipnorm)) {
        const float c = o->clipnorm;
        for (size_t v = 0; v < n_vars; v++) {
            float *g = grads + vars[v].offset;
            float norm = (float)sqrt(sum_squares(g, vars[v].size));
            float den = norm > c ? norm : c;
            for (size_t i = 0; i < vars[v].size; i++)
                g[i] = g[i] * c / den;
        }
    } else if (on(o->global_clipnorm)) {
        double total = 0.0;
        for (size_t v = 0; v < n_vars; v++)
            total += sum_squares(grads + vars[v].offset, vars[v].size);
        const float norm = (float)sqrt(total), c = o->global_clipnorm;
        /* scale = c * min(1 / norm, 1 / c) */
        const float inv = 1.0f / norm, inv_c = 1.0f / c;
        const float scale = c * (inv < inv_c ? inv : inv_c);
        for (size_t v = 0; v < n_vars; v++) {
            float *g = grads + vars[v].offset;
            for (size_t i = 0; i < vars[v].size; i++)
                g[i] *= scale;
        }
    } else if (on(o->clipvalue)) {
        const float c = o->clipvalue;
        for (size_t v = 0; v < n_vars; v++) {
            float *g = grads + vars[v].offset;
            for (size_t i = 0; i < vars[v].size; i++)
                g[i] = g[i] < -c ? -c : (g[i] > c ? c : g[i]);
        }
    }
}

/* The kind's rule over one variable's range [off, off + n). */
static hf_status update_var(const hf_opt_spec *o, float *p, const float *g, float *const *s,
                            size_t off, size_t n, float lr, int64_t iteration)
{
    switch (o->kind) {
    case HF_OPT_SGD:
        sgd(o, p + off, g + off, s[0] + off, n, lr);
        return HF_OK;
    case HF_OPT_RMSPROP:
        rmsprop(o, p + off, g + off, s[0] + off, s[1] + off, s[2] + off, n, lr);
        return HF_OK;
    case HF_OPT_ADAM:
        adam(o, p + off, g + off, s[0] + off, s[1] + off, s[2] + off, n, lr, iteration);
        return HF_OK;
    default:
        return HF_ERR_KIND;
    }
}

hf_status hf_opt_apply(const hf_opt_spec *o, float *params, float *grads, float *const *slots,
                       size_t n_params, const hf_var *vars, size_t n_vars, float lr,
                       int64_t iteration)
{
    if (!isfinite(lr))
        return HF_ERR_NONFINITE;
    hf_status st = hf_opt_spec_check(o);
    if (st != HF_OK)
        return st;
    if (iteration < 0)
        return HF_ERR_RANGE;
    for (size_t v = 0; v < n_vars; v++)
        if (vars[v].offset > n_params || vars[v].size > n_params - vars[v].offset)
            return HF_ERR_RANGE;
    if (o->use_ema && iteration == 0) {
        float *avg = slots[hf_opt_kind_slots(o->kind)];
        for (size_t v = 0; v < n_vars; v++)
            memcpy(avg + vars[v].offset, params + vars[v].offset, vars[v].size * sizeof(float));
    }
    clip(o, grads, vars, n_vars);
    if (on(o->weight_decay)) {
        const float wd = o->weight_decay;
        for (size_t v = 0; v < n_vars; v++) {
            float *p = params + vars[v].offset;
            for (size_t i = 0; i < vars[v].size; i++)
                p[i] -= p[i] * wd * lr;
        }
    }
    for (size_t v = 0; v < n_vars; v++) {
        st = update_var(o, params, grads, slots, vars[v].offset, vars[v].size, lr, iteration);
        if (st != HF_OK)
            return st;
    }
    if (o->use_ema) {
        /* tf-keras: the averages start as a copy of the weights (taken when
         * the optimizer is built, before its first update) and move after
         * each update; every ema_overwrite_frequency steps the weights take
         * the averages. */
        float *avg = slots[hf_opt_kind_slots(o->kind)];
        const float mom = o->ema_momentum, one_m = 1.0f - o->ema_momentum;
        const int overwrite = o->ema_overwrite_frequency > 0 &&
                              (iteration + 1) % o->ema_overwrite_frequency == 0;
        for (size_t v = 0; v < n_vars; v++) {
            float *p = params + vars[v].offset, *a = avg + vars[v].offset;
            for (size_t i = 0; i < vars[v].size; i++) {
                a[i] = mom * a[i] + one_m * p[i];
                if (overwrite)
                    p[i] = a[i];
            }
        }
    }
    return HF_OK;
}
