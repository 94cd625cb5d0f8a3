#include "hf_metric.h"

#include <math.h>
#include <string.h>

#include "hf_simd.h"

/* The loss a loss-named metric evaluates per sample. */
static hf_loss_spec loss_of(const hf_metric_spec *m)
{
    /* metric ids 0-4 match loss ids 0-4 */
    hf_loss_spec s = hf_loss_spec_of(m->kind == HF_METRIC_LOSS ? m->loss_kind : m->kind);
    s.from_logits = m->from_logits;
    s.label_smoothing = m->label_smoothing;
    s.delta = m->delta;
    return s;
}

static int is_loss_mean(int kind) { return kind <= HF_METRIC_SCCE || kind == HF_METRIC_LOSS; }

size_t hf_metric_state_floats(const hf_metric_spec *m, size_t k)
{
    if (hf_metric_is_confusion(m->kind))
        return 4 * m->n_thresholds;
    if (m->kind == HF_METRIC_R2_SCORE)
        return 4 * k + 1; /* sum, squared_sum, total_mse, count (per output), num_samples */
    return 2;
}

hf_status hf_metric_spec_check(const hf_metric_spec *m, size_t k)
{
    if (!hf_metric_valid(m->kind) || k == 0)
        return HF_ERR_KIND;
    if (is_loss_mean(m->kind)) {
        hf_loss_spec s = loss_of(m);
        return hf_loss_spec_check(&s);
    }
    if (!isfinite(m->threshold) || !isfinite(m->target))
        return HF_ERR_KIND;
    if ((m->kind == HF_METRIC_TOP_K_CATEGORICAL_ACCURACY ||
         m->kind == HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY) && m->top_k < 1)
        return HF_ERR_KIND;
    if (hf_metric_is_confusion(m->kind)) {
        if (m->n_thresholds == 0 || m->thresholds == NULL || m->class_id >= (int)k ||
            m->class_id < -1 || m->top_k < 0 || (m->kind == HF_METRIC_AUC && m->n_thresholds < 2))
            return HF_ERR_KIND;
        if (m->curve < HF_CURVE_ROC || m->curve > HF_CURVE_PR || m->summation < 0 ||
            m->summation > HF_SUM_MAJORING)
            return HF_ERR_KIND;
    }
    if (m->kind == HF_METRIC_R2_SCORE && (m->aggregation < 0 || m->aggregation > 1 || m->num_regressors < 0))
        return HF_ERR_KIND;
    return HF_OK;
}

/* Is p[j] kept by tf.math.top_k(p, top_k) (ties: the lower index first)? */
static int in_top(const float *p, size_t k, size_t j, int top_k)
{
    size_t ahead = 0;
    for (size_t i = 0; i < k; i++)
        ahead += p[i] > p[j] || (p[i] == p[j] && i < j);
    return ahead < (size_t)top_k;
}

/* tf.math.in_top_k: the target's value is among the top_k (ties count in). */
static float target_in_top(const float *p, size_t k, long target, int top_k)
{
    if (target < 0 || (size_t)target >= k)
        return 0.0f;
    size_t above = 0;
    for (size_t i = 0; i < k; i++)
        above += p[i] > p[target];
    return above < (size_t)top_k ? 1.0f : 0.0f;
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
    case HF_METRIC_TOP_K_CATEGORICAL_ACCURACY:
        return target_in_top(p, k, (long)hf_argmax(t, k), m->top_k);
    case HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY:
        return target_in_top(p, k, isfinite(t[0]) ? (long)t[0] : -1, m->top_k);
    case HF_METRIC_ROOT_MEAN_SQUARED_ERROR: {
        float v = 0.0f;
        for (size_t j = 0; j < k; j++)
            v += (p[j] - t[j]) * (p[j] - t[j]);
        return v / (float)k;
    }
    case HF_METRIC_COSINE_SIMILARITY:
        return -hf_cosine_row(t, p, k, NULL, 0.0f);
    default:
        return hf_loss_row(ls, t, p, k, NULL, 0.0f, st);
    }
}

/* The thresholds a prediction is above: with thresholds in ascending order
 * they are the first ones, [0, count) (a binary search; NaN is above none). */
static size_t count_above(const float *thresholds, size_t T, float p)
{
    size_t lo = 0, hi = T;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (p > thresholds[mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

HF_HOT static void add_range(float *restrict a, size_t from, size_t to, float v)
{
    HF_SIMD
    for (size_t q = from; q < to; q++)
        a[q] += v;
}

static int ascending(const float *x, size_t T)
{
    for (size_t q = 1; q < T; q++)
        if (!(x[q - 1] <= x[q]))
            return 0;
    return 1;
}

/* tf-keras's update_confusion_matrix_variables: every (row, output) pair is
 * one example (only output class_id when set; predictions outside each row's
 * top_k become NEG_INF), labels are true when non-zero, a prediction is
 * above a threshold when strictly greater. With ascending thresholds (AUC's
 * always) each example adds its weight to two ranges of counters, vector
 * loops instead of a branch per threshold: the same additions to each
 * counter in the same order (AUC's 200 thresholds, batches of 128 rows:
 * ~18.6 -> ~7.5 us per batch, measured in fit). */
static void confusion(const hf_metric_spec *m, const hf_rows *y, const hf_rows *w,
                      const float *pred, size_t n, size_t k, float *state)
{
    const size_t T = m->n_thresholds;
    float *tp = state, *fp = state + T, *tn = state + 2 * T, *fn = state + 3 * T;
    const size_t j0 = m->class_id >= 0 ? (size_t)m->class_id : 0;
    const size_t j1 = m->class_id >= 0 ? j0 + 1 : k;
    const int ranges = ascending(m->thresholds, T);
    for (size_t i = 0; i < n; i++) {
        const float *t = hf_row(y, i), *p = pred + i * k;
        const float wi = w ? hf_row(w, i)[0] : 1.0f;
        for (size_t j = j0; j < j1; j++) {
            float pj = m->from_logits ? hf_sigmoid(p[j]) : p[j];
            if (m->top_k > 0 && !in_top(p, k, j, m->top_k))
                pj = HF_NEG_INF;
            const int pos = t[j] != 0.0f;
            if (ranges) {
                const size_t c = count_above(m->thresholds, T, pj);
                add_range(pos ? tp : fp, 0, c, wi);
                add_range(pos ? fn : tn, c, T, wi);
                continue;
            }
            for (size_t q = 0; q < T; q++) {
                const int above = pj > m->thresholds[q];
                if (pos)
                    (above ? tp : fn)[q] += wi;
                else
                    (above ? fp : tn)[q] += wi;
            }
        }
    }
}

static void r2_update(const hf_rows *y, const hf_rows *w, const float *pred, size_t n, size_t k,
                      float *state)
{
    float *sum = state, *sq = state + k, *mse = state + 2 * k, *count = state + 3 * k;
    for (size_t j = 0; j < k; j++) {
        double a = 0.0, b = 0.0, c = 0.0, d = 0.0;
        for (size_t i = 0; i < n; i++) {
            const float t = hf_row(y, i)[j], e = t - pred[i * k + j];
            const float wi = w ? hf_row(w, i)[0] : 1.0f;
            a += (double)(t * wi);
            b += (double)(t * (t * wi));
            c += (double)(e * e * wi);
            d += (double)wi;
        }
        sum[j] += (float)a;
        sq[j] += (float)b;
        mse[j] += (float)c;
        count[j] += (float)d;
    }
    state[4 * k] += (float)(n * k);
}

/* Sum over rows of the mean squared (sq) or absolute error; k is a constant
 * where it is inlined with one (the loop over k folds away). */
HF_ALWAYS_INLINE double error_rows(const hf_rows *y, const float *pred, size_t n, size_t k, int sq)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *t = hf_row(y, i), *p = pred + i * k;
        float v = 0.0f;
        for (size_t j = 0; j < k; j++) {
            float d = p[j] - t[j];
            v += sq ? d * d : fabsf(d);
        }
        sum += v / (float)k;
    }
    return sum;
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
    if (hf_metric_is_confusion(m->kind)) {
        confusion(m, y, w, pred, n, k, state);
        return HF_OK;
    }
    if (m->kind == HF_METRIC_R2_SCORE) {
        r2_update(y, w, pred, n, k, state);
        return HF_OK;
    }
    const hf_loss_spec ls = loss_of(m);
    double sum = 0.0, count = 0.0;
    if (w == NULL && (m->kind == HF_METRIC_MSE || m->kind == HF_METRIC_MAE)) {
        /* The common regression metrics, without a per-row dispatch. */
        const int sq = m->kind == HF_METRIC_MSE;
        sum = k == 1 ? error_rows(y, pred, n, 1, sq) : error_rows(y, pred, n, k, sq);
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

static float div_no_nan(float a, float b) { return b != 0.0f ? a / b : 0.0f; }

/* Keras's interpolate_pr_auc (Davis & Goadrich), in double. */
static double pr_auc_interpolated(const float *tp, const float *fp, const float *fn, size_t T)
{
    double total = 0.0;
    for (size_t i = 0; i + 1 < T; i++) {
        double p0 = (double)tp[i] + fp[i], p1 = (double)tp[i + 1] + fp[i + 1];
        double dtp = (double)tp[i] - tp[i + 1], dp = p0 - p1;
        double slope = dp > 0.0 ? dtp / dp : 0.0;
        double intercept = tp[i + 1] - slope * p1;
        double ratio = (p0 > 0.0 && p1 > 0.0) ? p0 / p1 : 1.0;
        double den = (double)tp[i + 1] + fn[i + 1];
        if (den > 0.0)
            total += slope * (dtp + intercept * log(ratio)) / den;
    }
    return total;
}

static double auc(const hf_metric_spec *m, const float *s, size_t T)
{
    const float *tp = s, *fp = s + T, *tn = s + 2 * T, *fn = s + 3 * T;
    if (m->curve == HF_CURVE_PR && m->summation == HF_SUM_INTERPOLATION)
        return pr_auc_interpolated(tp, fp, fn, T);
    double total = 0.0, x0 = 0.0, y0 = 0.0;
    for (size_t i = 0; i < T; i++) {
        double recall = div_no_nan(tp[i], tp[i] + fn[i]);
        double x, y;
        if (m->curve == HF_CURVE_ROC) {
            x = div_no_nan(fp[i], fp[i] + tn[i]);
            y = recall;
        } else {
            x = recall;
            y = div_no_nan(tp[i], tp[i] + fp[i]);
        }
        if (i > 0) {
            double h = m->summation == HF_SUM_INTERPOLATION ? (y0 + y) / 2.0
                       : m->summation == HF_SUM_MINORING    ? (y0 < y ? y0 : y)
                                                            : (y0 > y ? y0 : y);
            total += (x0 - x) * h;
        }
        x0 = x;
        y0 = y;
    }
    return total;
}

/* max of dependent where constrained >= target, 0 when none is. */
static double max_under_constraint(const hf_metric_spec *m, const float *s, size_t T)
{
    const float *tp = s, *fp = s + T, *fn = s + 3 * T;
    double best = 0.0;
    int found = 0;
    for (size_t i = 0; i < T; i++) {
        float recall = div_no_nan(tp[i], tp[i] + fn[i]);
        float precision = div_no_nan(tp[i], tp[i] + fp[i]);
        float c = m->kind == HF_METRIC_PRECISION_AT_RECALL ? recall : precision;
        float d = m->kind == HF_METRIC_PRECISION_AT_RECALL ? precision : recall;
        if (c >= m->target && (!found || d > best)) {
            best = d;
            found = 1;
        }
    }
    return best;
}

static double r2_result(const hf_metric_spec *m, const float *s, size_t k)
{
    const float *sum = s, *sq = s + k, *mse = s + 2 * k, *count = s + 3 * k;
    double weighted = 0.0, weights = 0.0, plain = 0.0;
    for (size_t j = 0; j < k; j++) {
        float mean = sum[j] / count[j];
        float total = sq[j] - sum[j] * mean;
        float raw = 1.0f - mse[j] / total;
        if (isinf(raw))
            raw = 0.0f;
        plain += raw;
        weighted += (double)total * raw;
        weights += total;
    }
    double r2 = m->aggregation == HF_R2_VARIANCE_WEIGHTED ? weighted / weights : plain / (double)k;
    double n = s[4 * k], p = (double)m->num_regressors;
    if (m->num_regressors > 0 && p < n - 1.0)
        r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - p - 1.0);
    return r2;
}

double hf_metric_result(const hf_metric_spec *m, const float *state, size_t k)
{
    const size_t T = m->n_thresholds;
    switch (m->kind) {
    case HF_METRIC_TRUE_POSITIVES:
        return state[0];
    case HF_METRIC_FALSE_POSITIVES:
        return state[T];
    case HF_METRIC_TRUE_NEGATIVES:
        return state[2 * T];
    case HF_METRIC_FALSE_NEGATIVES:
        return state[3 * T];
    case HF_METRIC_PRECISION:
        return div_no_nan(state[0], state[0] + state[T]);
    case HF_METRIC_RECALL:
        return div_no_nan(state[0], state[0] + state[3 * T]);
    case HF_METRIC_AUC:
        return auc(m, state, T);
    case HF_METRIC_PRECISION_AT_RECALL:
    case HF_METRIC_RECALL_AT_PRECISION:
        return max_under_constraint(m, state, T);
    case HF_METRIC_R2_SCORE:
        return r2_result(m, state, k);
    case HF_METRIC_ROOT_MEAN_SQUARED_ERROR:
        return sqrtf(div_no_nan(state[0], state[1]));
    default:
        /* float32 division, as Keras's divide_no_nan(total, count). */
        return div_no_nan(state[0], state[1]);
    }
}
