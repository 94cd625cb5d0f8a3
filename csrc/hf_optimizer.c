#include "hf_optimizer.h"

#include <math.h>
#include <string.h>

#include "hf_pool.h"
#include "hf_simd.h"

/* The parallel cut of a large update (see step_job below): floats per task
 * (a multiple of 16: whole 64-byte lines), and the fewest parameters that
 * are split at all. */
#ifndef HF_OPT_CHUNK
#define HF_OPT_CHUNK 16384
#endif
#ifndef HF_OPT_SPLIT
#define HF_OPT_SPLIT 65536
#endif

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

/* Adam's and Nadam's moments: m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2),
 * stored and returned. c1 = 1 - b1, c2 = 1 - b2. */
HF_ALWAYS_INLINE void moments(float *restrict m, float *restrict v, float gi, float c1, float c2,
                              size_t i, float *mi, float *vi)
{
    *mi = m[i] + (gi - m[i]) * c1;
    *vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = *mi;
    v[i] = *vi;
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
    const int amsgrad = o->amsgrad; /* read once: the loop is then split on it, not masked */
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi, vi;
        moments(m, v, g[i], c1, c2, i, &mi, &vi);
        if (amsgrad) {
            vi = vh[i] > vi ? vh[i] : vi;
            vh[i] = vi;
        }
        p[i] -= (mi * alpha) / (sqrtf(vi) + eps);
    }
}


/* Adagrad: acc += g^2;  p -= lr g / sqrt(acc + eps). */
HF_HOT static void adagrad(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                           float *restrict acc, size_t n, float lr)
{
    const float eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float a = acc[i] + g[i] * g[i];
        acc[i] = a;
        p[i] -= lr * g[i] / sqrtf(a + eps);
    }
}

/* Adamax: m += (g - m)(1 - b1);  u = max(b2 u, |g|);  p -= lr m / ((1 - b1^t)(u + eps)). */
HF_HOT static void adamax(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                          float *restrict m, float *restrict u, size_t n, float lr, int64_t iteration)
{
    const float b1p = powf(o->beta_1, (float)(iteration + 1));
    const float c1 = 1.0f - o->beta_1, b2 = o->beta_2, eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi = m[i] + (g[i] - m[i]) * c1;
        float ui = b2 * u[i], ag = fabsf(g[i]);
        ui = ui > ag ? ui : ag;
        m[i] = mi;
        u[i] = ui;
        p[i] -= (lr * mi) / ((1.0f - b1p) * (ui + eps));
    }
}

/* Adadelta: ag = rho ag + (1 - rho) g^2;  d = -sqrt(adv + eps) g / sqrt(ag + eps);
 * adv = rho adv + (1 - rho) d^2;  p += lr d. */
HF_HOT static void adadelta(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                            float *restrict ag, float *restrict adv, size_t n, float lr)
{
    const float rho = o->rho, eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float a = rho * ag[i] + (1.0f - rho) * g[i] * g[i];
        float d = -sqrtf(adv[i] + eps) * g[i] / sqrtf(a + eps);
        ag[i] = a;
        adv[i] = rho * adv[i] + (1.0f - rho) * d * d;
        p[i] += lr * d;
    }
}

/* Nadam (tf-keras): u_t = b1 (1 - 0.5 * 0.96^t), u_t1 = b1 (1 - 0.5 * 0.96^(t+1)),
 * m_hat = u_t1 m / (1 - u_prod u_t1) + (1 - u_t) g / (1 - u_prod),
 * p -= lr m_hat / (sqrt(v / (1 - b2^t)) + eps); u_prod already includes u_t. */
HF_HOT static void nadam(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                         float *restrict m, float *restrict v, size_t n, float lr, float u_t,
                         float u_t1, float u_prod, int64_t iteration)
{
    const float u_prod1 = u_prod * u_t1;
    const float b2p = powf(o->beta_2, (float)(iteration + 1));
    const float c1 = 1.0f - o->beta_1, c2 = 1.0f - o->beta_2, eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi, vi;
        moments(m, v, g[i], c1, c2, i, &mi, &vi);
        float m_hat = u_t1 * mi / (1.0f - u_prod1) + (1.0f - u_t) * g[i] / (1.0f - u_prod);
        float v_hat = vi / (1.0f - b2p);
        p[i] -= (m_hat * lr) / (sqrtf(v_hat) + eps);
    }
}

/* Ftrl (tf-keras): see the Keras docstring; l2 grows by beta / (2 lr). */
HF_HOT static void ftrl(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                        float *restrict acc, float *restrict lin, size_t n, float lr)
{
    const float power = o->learning_rate_power, l1 = o->l1;
    const float l2 = o->l2 + o->beta / (2.0f * lr), shrink = o->l2_shrinkage;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + 2.0f * shrink * p[i];
        float na = acc[i] + g[i] * g[i];
        float li = lin[i] + gi - (powf(na, -power) - powf(acc[i], -power)) / lr * p[i];
        float quad = powf(na, -power) / lr + 2.0f * l2;
        float clipped = li < -l1 ? -l1 : (li > l1 ? l1 : li);
        lin[i] = li;
        p[i] = (clipped - li) / quad;
        acc[i] = na;
    }
}

/* Lion: p -= lr sign(b1 m + (1 - b1) g);  m = b2 m + (1 - b2) g. */
HF_HOT static void lion(const hf_opt_spec *o, float *restrict p, const float *restrict g,
                        float *restrict m, size_t n, float lr)
{
    const float b1 = o->beta_1, b2 = o->beta_2;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float c = m[i] * b1 + g[i] * (1.0f - b1);
        p[i] -= lr * (float)((c > 0.0f) - (c < 0.0f));
        m[i] = m[i] * b2 + g[i] * (1.0f - b2);
    }
}

size_t hf_opt_kind_slots(int kind)
{
    switch (kind) {
    case HF_OPT_SGD:
        return 1;
    case HF_OPT_ADAGRAD:
    case HF_OPT_LION:
        return 1;
    case HF_OPT_ADAMAX:
    case HF_OPT_ADADELTA:
    case HF_OPT_FTRL:
        return 2;
    case HF_OPT_RMSPROP:
    case HF_OPT_ADAM:
    case HF_OPT_NADAM:
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
    o.rho = kind == HF_OPT_ADADELTA ? 0.95f : 0.9f;
    o.ema_momentum = 0.99f;
    o.initial_accumulator_value = 0.1f;
    o.learning_rate_power = -0.5f;
    if (kind == HF_OPT_LION)
        o.beta_2 = 0.99f;
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
    if (!(in_unit(o->beta_1) && in_unit(o->beta_2) && in_unit(o->rho)))
        return HF_ERR_KIND;
    const float ftrl[] = {o->initial_accumulator_value, o->learning_rate_power, o->l1, o->l2,
                          o->l2_shrinkage, o->beta};
    for (size_t i = 0; i < sizeof ftrl / sizeof ftrl[0]; i++)
        if (!isfinite(ftrl[i]))
            return HF_ERR_KIND;
    if (o->initial_accumulator_value < 0.0f || o->learning_rate_power > 0.0f || o->l1 < 0.0f ||
        o->l2 < 0.0f || o->l2_shrinkage < 0.0f || o->beta < 0.0f)
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

/* Nadam's per-step scalars: u_t, u_{t+1} and the running product of u
 * (kept in float32 as tf-keras's variable, in the first float of slot 2). */
typedef struct step_scalars {
    float u_t, u_t1, u_prod;
} step_scalars;

/* The kind's rule over one variable's range [off, off + n). */
static hf_status update_var(const hf_opt_spec *o, float *p, const float *g, float *const *s,
                            size_t off, size_t n, float lr, int64_t iteration,
                            const step_scalars *sc)
{
    switch (o->kind) {
    case HF_OPT_ADAGRAD:
        adagrad(o, p + off, g + off, s[0] + off, n, lr);
        return HF_OK;
    case HF_OPT_ADAMAX:
        adamax(o, p + off, g + off, s[0] + off, s[1] + off, n, lr, iteration);
        return HF_OK;
    case HF_OPT_ADADELTA:
        adadelta(o, p + off, g + off, s[0] + off, s[1] + off, n, lr);
        return HF_OK;
    case HF_OPT_NADAM:
        nadam(o, p + off, g + off, s[0] + off, s[1] + off, n, lr, sc->u_t, sc->u_t1, sc->u_prod,
              iteration);
        return HF_OK;
    case HF_OPT_FTRL:
        ftrl(o, p + off, g + off, s[0] + off, s[1] + off, n, lr);
        return HF_OK;
    case HF_OPT_LION:
        lion(o, p + off, g + off, s[0] + off, n, lr);
        return HF_OK;
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

/* Everything after clipping is elementwise: decay, first-step slot values,
 * the kind's rule and the EMA of one element never read another element.
 * So a large update is cut into fixed ranges (HF_OPT_CHUNK floats inside
 * one variable, the cut depending on the sizes only) run on the pool:
 * results are bitwise the same for any thread count. Below HF_OPT_SPLIT
 * parameters a step is one task run by the caller: a pool job costs more
 * than it saves there (benchmarks/bench_threads.py --crossover times it). */
typedef struct step_job {
    const hf_opt_spec *o;
    float *params, *grads;
    float *const *slots;
    const hf_var *vars;
    size_t n_vars, chunk;
    float lr;
    int64_t iteration;
    const step_scalars *sc;
} step_job;

static size_t chunks_of(size_t size, size_t chunk) { return (size + chunk - 1) / chunk; }

/* Decay, first-step slot values, the rule and the EMA over [off, off + n). */
static void step_range(const step_job *j, size_t off, size_t n)
{
    const hf_opt_spec *o = j->o;
    const float lr = j->lr;
    float *p = j->params + off;
    if (on(o->weight_decay)) {
        const float wd = o->weight_decay;
        for (size_t i = 0; i < n; i++)
            p[i] -= p[i] * wd * lr;
    }
    if (j->iteration == 0 && (o->kind == HF_OPT_ADAGRAD || o->kind == HF_OPT_FTRL)) {
        /* tf-keras builds the accumulators at initial_accumulator_value. */
        for (size_t i = 0; i < n; i++)
            j->slots[0][off + i] = o->initial_accumulator_value;
    }
    (void)update_var(o, j->params, j->grads, j->slots, off, n, lr, j->iteration, j->sc);
    if (o->use_ema) {
        /* tf-keras: the averages start as a copy of the weights (taken when
         * the optimizer is built, before its first update) and move after
         * each update; every ema_overwrite_frequency steps the weights take
         * the averages. */
        float *a = j->slots[hf_opt_kind_slots(o->kind)] + off;
        const float mom = o->ema_momentum, one_m = 1.0f - o->ema_momentum;
        const int overwrite = o->ema_overwrite_frequency > 0 &&
                              (j->iteration + 1) % o->ema_overwrite_frequency == 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = mom * a[i] + one_m * p[i];
            if (overwrite)
                p[i] = a[i];
        }
    }
}

/* Task t: the t-th chunk, counting the chunks of each variable in order. */
static void step_task(void *ctx, size_t t)
{
    const step_job *j = ctx;
    for (size_t v = 0; v < j->n_vars; v++) {
        const size_t k = chunks_of(j->vars[v].size, j->chunk);
        if (t < k) {
            const size_t from = t * j->chunk, size = j->vars[v].size;
            step_range(j, j->vars[v].offset + from, size - from < j->chunk ? size - from : j->chunk);
            return;
        }
        t -= k;
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
    if (!hf_opt_valid(o->kind))
        return HF_ERR_KIND;
    size_t total = 0;
    for (size_t v = 0; v < n_vars; v++) {
        if (vars[v].offset > n_params || vars[v].size > n_params - vars[v].offset)
            return HF_ERR_RANGE;
        total += vars[v].size;
    }
    if (o->use_ema && iteration == 0) /* all of params: frozen ones keep their value */
        memcpy(slots[hf_opt_kind_slots(o->kind)], params, n_params * sizeof(float));
    clip(o, grads, vars, n_vars);
    step_scalars sc = {0.0f, 0.0f, 0.0f};
    if (o->kind == HF_OPT_NADAM && n_params > 0) {
        const float t = (float)(iteration + 1);
        sc.u_t = o->beta_1 * (1.0f - 0.5f * powf(0.96f, t));
        sc.u_t1 = o->beta_1 * (1.0f - 0.5f * powf(0.96f, t + 1.0f));
        float prev = iteration == 0 ? 1.0f : slots[2][0];
        sc.u_prod = prev * sc.u_t;
        slots[2][0] = sc.u_prod;
    }
    step_job j = {o, params, grads, slots, vars, n_vars, HF_OPT_CHUNK, lr, iteration, &sc};
    if (total < HF_OPT_SPLIT) {
        for (size_t v = 0; v < n_vars; v++)
            step_range(&j, vars[v].offset, vars[v].size);
        return HF_OK;
    }
    size_t n_tasks = 0;
    for (size_t v = 0; v < n_vars; v++)
        n_tasks += chunks_of(vars[v].size, j.chunk);
    hf_pool_run(n_tasks, step_task, &j);
    return HF_OK;
}
