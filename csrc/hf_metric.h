/* Metric accumulators: a float32 (total, count) pair per metric, kept across
 * batches, so the running mean total / count is read, never recomputed.
 * A batch adds the sum of its per-sample values (summed in double) to total
 * and its row count to count, as Keras's Mean metrics do. */
#ifndef HF_METRIC_H
#define HF_METRIC_H

#include <stddef.h>

#include "hf_loss.h"
#include "hf_rows.h"
#include "hf_status.h"

enum {
    HF_METRIC_MSE = 0,
    HF_METRIC_MAE = 1,
    HF_METRIC_BCE = 2,
    HF_METRIC_CCE = 3,
    HF_METRIC_SCCE = 4,
    HF_METRIC_BINARY_ACCURACY = 5,
    HF_METRIC_CATEGORICAL_ACCURACY = 6,
    HF_METRIC_SPARSE_CATEGORICAL_ACCURACY = 7
};

static inline int hf_metric_valid(int kind)
{
    return kind >= HF_METRIC_MSE && kind <= HF_METRIC_SPARSE_CATEGORICAL_ACCURACY;
}

static inline size_t hf_metric_y_width(int kind, size_t k)
{
    return (kind == HF_METRIC_SCCE || kind == HF_METRIC_SPARSE_CATEGORICAL_ACCURACY) ? 1 : k;
}

/* First index of the largest value (tf.argmax's tie rule). */
static inline size_t hf_argmax(const float *v, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

/* Per-sample metric value of one row. The five loss-named metrics equal the
 * loss of the same name (metric ids 0-4 match loss ids 0-4). */
static inline float hf_metric_row(int kind, const float *t, const float *p, size_t k, hf_status *st)
{
    switch (kind) {
    case HF_METRIC_BINARY_ACCURACY: {
        float hits = 0.0f;
        for (size_t j = 0; j < k; j++)
            hits += ((p[j] > 0.5f ? 1.0f : 0.0f) == t[j]) ? 1.0f : 0.0f;
        return hits / (float)k;
    }
    case HF_METRIC_CATEGORICAL_ACCURACY:
        return hf_argmax(t, k) == hf_argmax(p, k) ? 1.0f : 0.0f;
    case HF_METRIC_SPARSE_CATEGORICAL_ACCURACY:
        /* Compares the label as a float, as Keras does; reads no index. */
        return (float)hf_argmax(p, k) == t[0] ? 1.0f : 0.0f;
    default:
        return hf_loss_row(kind, t, p, k, NULL, 0.0f, st);
    }
}

/* Adds the n rows pred (n x k) against y rows to state = [total, count]. */
hf_status hf_metric_update(int kind, const hf_rows *y, const float *pred, size_t n, size_t k,
                           float *state);

/* The loss tracker: total += batch_loss * n, count += n. */
static inline void hf_loss_tracker_update(float *state, double batch_loss, size_t n)
{
    state[0] += (float)batch_loss * (float)n;
    state[1] += (float)n;
}

#endif
