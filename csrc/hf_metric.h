/* Metric accumulators with Keras's state: each metric owns a block of
 * hf_metric_state_floats() float32 values inside the network's metric state,
 * kept across batches and read by hf_metric_result(). The mean metrics keep
 * (total, count): a batch adds the sum of its per-sample values (summed in
 * double) to total and its row count (weighted: the sum of the sample
 * weights) to count, as Keras's Mean metrics do; the result is the float32
 * quotient (0 when count is 0, Keras's divide_no_nan).
 *
 * A metric is described by an hf_metric_spec (the contract with the network
 * in NUMERICS_SPEC.md). */
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
    HF_METRIC_SPARSE_CATEGORICAL_ACCURACY = 7,
    HF_METRIC_TOP_K_CATEGORICAL_ACCURACY = 8,
    HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY = 9,
    HF_METRIC_ROOT_MEAN_SQUARED_ERROR = 10,
    HF_METRIC_LOSS = 11, /* the running mean of the loss spec'd by loss_kind (and delta) */
    HF_METRIC_COSINE_SIMILARITY = 12,
    HF_METRIC_TRUE_POSITIVES = 13,
    HF_METRIC_FALSE_POSITIVES = 14,
    HF_METRIC_TRUE_NEGATIVES = 15,
    HF_METRIC_FALSE_NEGATIVES = 16,
    HF_METRIC_PRECISION = 17,
    HF_METRIC_RECALL = 18,
    HF_METRIC_AUC = 19,
    HF_METRIC_PRECISION_AT_RECALL = 20,
    HF_METRIC_RECALL_AT_PRECISION = 21,
    HF_METRIC_R2_SCORE = 22
};
#define HF_METRIC_N_KINDS 23

enum { HF_CURVE_ROC = 0, HF_CURVE_PR = 1 };
enum { HF_SUM_INTERPOLATION = 0, HF_SUM_MINORING = 1, HF_SUM_MAJORING = 2 };
enum { HF_R2_UNIFORM = 0, HF_R2_VARIANCE_WEIGHTED = 1 };

/* Keras's NEG_INF: the value top_k filtering gives the predictions it drops. */
#define HF_NEG_INF (-1e10f)

typedef struct hf_metric_spec {
    int kind;                     /* HF_METRIC_* */
    int weighted;                 /* 1 for weighted_metrics: sample weights apply */
    int from_logits;              /* loss-named metrics (BCE/CCE/SCCE) */
    float label_smoothing;        /* loss-named metrics (BCE/CCE) */
    float threshold;              /* BinaryAccuracy */
    int top_k;                    /* TopK accuracies (5); confusion metrics: 0 = no filter */
    int class_id;                 /* -1 for none */
    size_t n_thresholds;          /* confusion metrics, AUC */
    const float *thresholds;      /* n_thresholds values, owned by the caller */
    int curve, summation;         /* AUC: HF_CURVE_*, HF_SUM_* */
    float target;                 /* PrecisionAtRecall / RecallAtPrecision */
    int loss_kind;                /* HF_METRIC_LOSS: the HF_LOSS_* averaged */
    float delta;                  /* HF_METRIC_LOSS with Huber */
    int aggregation;              /* R2Score: HF_R2_* */
    int num_regressors;           /* R2Score: adjusted R2 when > 0 */
} hf_metric_spec;

/* The confusion-matrix metrics keep [tp, fp, tn, fn] x n_thresholds. */
static inline int hf_metric_is_confusion(int kind)
{
    return kind >= HF_METRIC_TRUE_POSITIVES && kind <= HF_METRIC_RECALL_AT_PRECISION;
}

static inline int hf_metric_valid(int kind) { return kind >= 0 && kind < HF_METRIC_N_KINDS; }

static inline size_t hf_metric_y_width(int kind, size_t k)
{
    return (kind == HF_METRIC_SCCE || kind == HF_METRIC_SPARSE_CATEGORICAL_ACCURACY ||
            kind == HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY)
               ? 1
               : k;
}

static inline size_t hf_metric_spec_y_width(const hf_metric_spec *m, size_t k)
{
    return hf_metric_y_width(m->kind, k);
}

/* A spec with Keras's defaults for kind. */
static inline hf_metric_spec hf_metric_spec_of(int kind)
{
    hf_metric_spec m = {kind, 0, 0, 0.0f, 0.5f, kind == HF_METRIC_TOP_K_CATEGORICAL_ACCURACY || kind == HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY ? 5 : 0, -1, 0, NULL, 0, 0, 0.0f,
                        HF_LOSS_MSE, 1.0f, HF_R2_UNIFORM, 0};
    return m;
}

/* Floats of state the metric keeps (its block in the network's state). */
size_t hf_metric_state_floats(const hf_metric_spec *m, size_t k);

/* HF_OK, or HF_ERR_KIND for an unknown kind or a setting out of range for
 * outputs of width k. */
hf_status hf_metric_spec_check(const hf_metric_spec *m, size_t k);

/* First index of the largest value (tf.argmax's tie rule). */
static inline size_t hf_argmax(const float *v, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

/* Adds the n rows pred (n x k) against y rows (and weights from *sw when the
 * metric is weighted and sw is not NULL) to the metric's state block. */
hf_status hf_metric_accumulate(const hf_metric_spec *m, const hf_rows *y, const hf_rows *sw,
                               const float *pred, size_t n, size_t k, float *state);

/* The metric's value from its state block. */
double hf_metric_result(const hf_metric_spec *m, const float *state, size_t k);

/* The loss tracker: total += batch_loss * n, count += n. */
static inline void hf_loss_tracker_update(float *state, double batch_loss, size_t n)
{
    state[0] += (float)batch_loss * (float)n;
    state[1] += (float)n;
}

#endif
