/* A network as a list of nodes in topological order, each reading its
 * inputs' buffers, over caller-owned buffers; and the whole-batch steps: one
 * call runs forward, loss, backward, the optimizer update and the metric
 * accumulation. A Sequential model is the chain Input -> Dense -> ... and
 * takes exactly the code it took before graphs: sgemm per layer, or the
 * fused single-unit kernel (hf_dense1) for a lone Dense(1). Nothing here
 * allocates: the caller sizes the workspace with hf_network_workspace(). */
#ifndef HF_NETWORK_H
#define HF_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "hf_blas.h"
#include "hf_loss.h"
#include "hf_metric.h"
#include "hf_optimizer.h"
#include "hf_status.h"

enum {
    HF_NODE_INPUT = 0,         /* columns [offset, offset + width) of x */
    HF_NODE_DENSE = 1,
    HF_NODE_ACTIVATION = 2,
    HF_NODE_DROPOUT = 3,
    HF_NODE_BATCHNORM = 4,
    HF_NODE_NORMALIZATION = 5,
    HF_NODE_ADD = 6,
    HF_NODE_CONCATENATE = 7    /* along the feature axis, in input order */
};
#define HF_NODE_COUNT 8

typedef struct hf_node {
    int kind;
    size_t width;                     /* output columns */
    size_t n_inputs;
    const size_t *inputs;             /* indices of earlier nodes */
    const unsigned char *accumulate;  /* per input: another consumer wrote its gradient first */
    size_t offset;                    /* INPUT: first column in x */
    int act;                          /* DENSE, ACTIVATION */
    float alpha;                      /* the activation's parameter (hf_activation.h) */
    int64_t w_off, b_off;             /* DENSE kernel, bias; BATCHNORM gamma, beta; -1: none */
    int64_t s_off;                    /* BATCHNORM moving_mean, NORMALIZATION mean; the
                                       * (moving) variance follows at s_off + width */
    int trainable;                    /* DENSE, BATCHNORM (False: BN runs in inference mode) */
    float kernel_l1, kernel_l2, bias_l1, bias_l2, activity_l1, activity_l2;
    uint64_t seed;                    /* DROPOUT */
    uint32_t drop_threshold;          /* floor(rate * 2^24) */
    float drop_scale;                 /* 1 / (1 - rate) in float32 */
    int shared_row;                   /* noise_shape (1, width) */
    float momentum, epsilon;          /* BATCHNORM; epsilon also NORMALIZATION */
    int live;                         /* the output depends on it: forward computes it */
    int backward;                     /* live, with a trainable weight upstream: backward runs */
    int64_t val, aux, grad;           /* per-row float offsets of its output, its extra buffer
                                       * (z, dropout mask) and its gradient; -1: none. A
                                       * softmax/sigmoid output keeps z there: the loss may be
                                       * taken from it (hf_logits.h) */
    int64_t stats;                    /* fixed workspace: BATCHNORM 4 * width floats (batch mean,
                                       * 1/std, scratch), NORMALIZATION width (divisors) */
} hf_node;

typedef struct hf_network {
    size_t n_nodes;
    const hf_node *nodes;
    size_t output;                    /* the node whose value is the model output */
    size_t x_width;
    size_t row_floats, fixed_floats;  /* workspace per batch row, and once */
    int dense1;                       /* nodes are Input -> Dense(1): the fused path */
    size_t n_params;
    float *params, *grads;            /* n_params each; grads mirrors the params layout */
    float *slots[HF_OPT_MAX_SLOTS];   /* hf_opt_n_slots(&opt) used, n_params each */
    hf_opt_spec opt;
    const hf_var *vars;               /* the trainable weight arrays, in node order */
    size_t n_vars;
    hf_loss_spec loss;
    size_t n_metrics;
    const hf_metric_spec *metrics;
    float *mstate;                    /* the loss tracker (total, count), then each metric's
                                       * block of hf_metric_state_floats() floats, in order */
    int64_t iterations;
    const hf_blas *blas;
} hf_network;

typedef struct hf_data {
    const float *x;          /* n_rows x x_width */
    const float *y;          /* n_rows x y_width, or NULL */
    const float *sw;         /* n_rows, or NULL */
    size_t n_rows, x_width, y_width;
    const int64_t *order;    /* n_positions row ids in [0, n_rows), or NULL */
    size_t n_positions;
} hf_data;

/* Floats of workspace the steps need for batches of up to `batch` rows;
 * SIZE_MAX when that does not fit in size_t. */
size_t hf_network_workspace(const hf_network *net, size_t batch);

/* The output width. */
size_t hf_network_output_width(const hf_network *net);

/* The running values [loss, metric_0, ...] (1 + n_metrics doubles) from
 * the accumulators: what fit's logs show (the loss 0.0 before any batch). */
void hf_network_results(const hf_network *net, double *out);

/* The model output (n x output width, contiguous) of the last batch a train
 * or test step ran in workspace ws sized for batches of cap rows: it stays
 * there after the step (the metrics read it after the backward pass). NULL
 * when the output is an Input node (no buffer of its own). */
const float *hf_network_batch_output(const hf_network *net, const float *ws, size_t cap);

/* ceil(count / batch) steps over positions [start, start + count), the last
 * one partial; each updates the trainable parameters (iterations += 1) and
 * adds to the metric accumulators. lr must be finite. */
hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                         size_t batch, float lr, float *ws);

/* The same steps, each at its own rate when ``rates`` is not NULL (one per
 * step), stopping after the first step whose running loss (accumulator
 * total / count, as a float) is NaN or infinite when ``stop_on_nonfinite``:
 * a whole run of batches in one call where the caller would otherwise call
 * once per batch. *ran: the steps completed (also on an error); *stopped:
 * 1 when the loss stopped the run. A rate that is not finite stops the run
 * before its step with HF_ERR_NONFINITE. */
hf_status hf_train_run(hf_network *net, const hf_data *data, size_t start, size_t count,
                       size_t batch, float lr, const float *rates, int stop_on_nonfinite, float *ws,
                       size_t *ran, int *stopped);

/* Forward (inference mode), loss and metric accumulation, no update. */
hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                        size_t batch, float *ws);

/* Forward into out rows [start, start + count) (out: n_positions x output
 * width). training: dropout on (masks keyed by `iteration`) and batch
 * statistics, which also move BatchNormalization's moving statistics (as a
 * Keras call with training=True does); predict passes 0. */
hf_status hf_forward_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                           size_t batch, int training, int64_t iteration, float *out, float *ws);

/* The data-parallel step, in two calls around one in-place sum over ranks
 * (an Allreduce) of the buffer [grads (n_params) | mdelta] (hf_reduce_floats):
 *
 * hf_grad_step: forward, loss and backward on this rank's n rows at
 * positions [start, start + n), rows [row0, row0 + n) of a global batch of
 * global_rows rows. A mean loss's gradient is scaled by n / global_rows, so
 * the sum over ranks of grads is the global batch's gradient (sample
 * weights included); a summed loss's share is its part of the sum as it
 * is. mdelta (as many floats as the metric state, zeroed first) gets the
 * loss and metric deltas. Dropout draws the rows [row0, row0 + n) of the
 * global batch's masks; a trainable BatchNormalization uses the share's
 * batch statistics and moves its moving statistics by them (the caller
 * averages those over ranks, as tf-keras's replicas do). Trainable
 * parameters, slots, accumulators and iterations do not change. n may be 0
 * (an empty share of a tiny last batch): grads and mdelta become zeros.
 *
 * hf_update_step: adds mdelta to the accumulators, applies the optimizer
 * with grads, iterations += 1. With n == global_rows the two calls compute
 * bitwise what one step of hf_train_steps computes. */
size_t hf_reduce_floats(const hf_network *net);
/* 0 for a summed loss with a weight or activity penalty (every rank would
 * add the penalty in full): hf_grad_step then returns HF_ERR_KIND. */
int hf_network_data_parallel_ok(const hf_network *net);
hf_status hf_grad_step(hf_network *net, const hf_data *data, size_t start, size_t n,
                       size_t row0, size_t global_rows, float *mdelta, float *ws);
hf_status hf_update_step(hf_network *net, const float *mdelta, float lr);

#endif
