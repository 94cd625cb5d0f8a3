#include "hf_network.h"

#include <math.h>
#include <string.h>

#include "hf_activation.h"
#include "hf_batchnorm.h"
#include "hf_dense.h"
#include "hf_dense1.h"
#include "hf_dropout.h"
#include "hf_fpenv.h"
#include "hf_logits.h"
#include "hf_loss.h"
#include "hf_metric.h"
#include "hf_regularizer.h"
#include "hf_rows.h"

/* Workspace layout for batches of up to `cap` rows:
 *   gathered x (cap x x_width) | per-row buffers (cap x row_floats, each
 *   node's value/aux/grad at cap * its offset) | fixed (BN batch statistics)
 *   | dense1 scratch (HF_DENSE1_SCRATCH(x_width)). */

static int mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

static int add_ok(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return 0;
    *out = a + b;
    return 1;
}

size_t hf_network_workspace(const hf_network *net, size_t batch)
{
    size_t per_row, rows, total;
    if (!add_ok(net->x_width, net->row_floats, &per_row) || !mul_ok(batch, per_row, &rows) ||
        !add_ok(rows, net->fixed_floats, &total) ||
        !add_ok(total, HF_DENSE1_SCRATCH(net->x_width), &total))
        return SIZE_MAX;
    return total;
}

size_t hf_network_output_width(const hf_network *net) { return net->nodes[net->output].width; }

void hf_network_results(const hf_network *net, double *out)
{
    const float *st = net->mstate;
    const size_t k = hf_network_output_width(net);
    size_t off = 2;
    out[0] = st[1] != 0.0f ? (double)(st[0] / st[1]) : 0.0;
    for (size_t i = 0; i < net->n_metrics; i++) {
        out[1 + i] = hf_metric_result(&net->metrics[i], st + off, k);
        off += hf_metric_state_floats(&net->metrics[i], k);
    }
}

const float *hf_network_batch_output(const hf_network *net, const float *ws, size_t cap)
{
    const hf_node *nd = &net->nodes[net->output];
    if (nd->kind == HF_NODE_INPUT || nd->val < 0)
        return NULL;
    /* value_of() over begin()'s layout: x rows, then the per-row buffers. */
    return ws + cap * net->x_width + cap * (size_t)nd->val;
}

/* One batch in flight. */
typedef struct batch {
    hf_network *net;
    float *rows;        /* the per-row buffers */
    float *fixed;
    size_t cap, n;      /* row capacity of the buffers, rows in this batch */
    const float *x;     /* the batch's x rows (gathered, or in place) */
    int training;
    uint64_t key_iteration;
    float *out;         /* when not NULL, the output node writes here */
    size_t row0;        /* a data-parallel share: its first row's index in the global
                         * batch (dropout draws the global batch's masks) */
    int logits_grad;    /* the output's gradient is dL/dz (hf_logits.h): its
                         * activation's derivative is not applied */
} batch;

static float *value_of(const batch *b, size_t i)
{
    if (i == b->net->output && b->out != NULL)
        return b->out;
    return b->rows + b->cap * (size_t)b->net->nodes[i].val;
}

static float *aux_of(const batch *b, const hf_node *nd)
{
    return nd->aux < 0 ? NULL : b->rows + b->cap * (size_t)nd->aux;
}

static float *grad_of(const batch *b, size_t i)
{
    const hf_node *nd = &b->net->nodes[i];
    return nd->backward ? b->rows + b->cap * (size_t)nd->grad : NULL;
}

/* The output's activation when it is one tf-keras substitutes logits for
 * (a Dense or Activation node: softmax or sigmoid), else -1. */
static int output_act(const hf_network *net)
{
    const hf_node *nd = &net->nodes[net->output];
    if (nd->kind != HF_NODE_DENSE && nd->kind != HF_NODE_ACTIVATION)
        return -1;
    return nd->act == HF_ACT_SOFTMAX || nd->act == HF_ACT_SIGMOID ? nd->act : -1;
}

/* Whether a crossentropy metric is computed from the output's logits. */
static int metrics_take_logits(const hf_network *net)
{
    const int act = output_act(net);
    for (size_t m = 0; m < net->n_metrics; m++)
        if (hf_logits_substitute(hf_metric_crossentropy(&net->metrics[m]), act))
            return 1;
    return 0;
}

/* Whether the loss or a metric is computed from the output's logits. */
static int takes_logits(const hf_network *net)
{
    return hf_logits_substitute(net->loss.kind, output_act(net)) || metrics_take_logits(net);
}

/* The output's pre-activation (its aux buffer) when a crossentropy of kind
 * loss_kind is computed from it, else NULL. */
static const float *logits_for(const batch *b, int loss_kind)
{
    const hf_network *net = b->net;
    if (!hf_logits_substitute(loss_kind, output_act(net)))
        return NULL;
    return aux_of(b, &net->nodes[net->output]);
}

/* The value of node i as a matrix with row stride *ld (an Input node is a
 * column slice of x, read in place). */
static const float *input_of(const batch *b, size_t i, size_t *ld)
{
    const hf_node *nd = &b->net->nodes[i];
    if (nd->kind == HF_NODE_INPUT) {
        *ld = b->net->x_width;
        return b->x + nd->offset;
    }
    *ld = nd->width;
    return value_of(b, i);
}

static float *param(const hf_network *net, float *base, int64_t off)
{
    (void)net;
    return off < 0 ? NULL : base + off;
}

/* dst (n x k, contiguous) = or += src (row stride lds). */
static void emit(float *dst, size_t ldd, const float *src, size_t lds, size_t n, size_t k,
                 int accumulate)
{
    for (size_t i = 0; i < n; i++) {
        float *d = dst + i * ldd;
        const float *s = src + i * lds;
        if (accumulate) {
            for (size_t j = 0; j < k; j++)
                d[j] += s[j];
        } else {
            memcpy(d, s, k * sizeof(float));
        }
    }
}

/* ---------------------------------------------------------------- forward */

/* The dropout stream of node i in this step; a data-parallel share skips
 * the rows of the global batch before it, so the ranks together draw the
 * one-process masks (a shared row, noise_shape (1, k), is the global row 0). */
static uint64_t dropout_key(const hf_node *nd, const batch *b, size_t i)
{
    const uint64_t key = hf_dropout_key(nd->seed, (int64_t)b->key_iteration, i);
    return nd->shared_row ? key : hf_dropout_skip_rows(key, b->row0);
}

static hf_status forward_node(const batch *b, size_t i, double *penalty)
{
    hf_network *net = b->net;
    const hf_node *nd = &net->nodes[i];
    const size_t n = b->n, k = nd->width;
    float *a = nd->kind == HF_NODE_INPUT ? NULL : value_of(b, i);
    size_t ld = 0;
    const float *in = nd->n_inputs > 0 ? input_of(b, nd->inputs[0], &ld) : NULL;
    switch (nd->kind) {
    case HF_NODE_INPUT:
        return HF_OK;
    case HF_NODE_DENSE: {
        const size_t din = net->nodes[nd->inputs[0]].width;
        hf_status st = hf_dense_forward(net->blas, in, ld, net->params + nd->w_off,
                                        param(net, net->params, nd->b_off), nd->act, nd->alpha,
                                        aux_of(b, nd), a, n, din, k);
        if (st != HF_OK)
            return st;
        /* tf-keras divides the activity penalty by the batch size
         * (base_layer's mean_activity_loss); Keras 3 does not. */
        if (penalty != NULL && (nd->activity_l1 != 0.0f || nd->activity_l2 != 0.0f))
            *penalty += hf_penalty(a, n * k, nd->activity_l1, nd->activity_l2) / (double)n;
        return HF_OK;
    }
    case HF_NODE_ACTIVATION: {
        float *z = nd->aux >= 0 ? aux_of(b, nd) : a;
        emit(z, k, in, ld, n, k, 0);
        hf_act_forward(nd->act, nd->alpha, z, a, n, k, NULL);
        return HF_OK;
    }
    case HF_NODE_DROPOUT:
        if (b->training && nd->drop_threshold > 0)
            hf_dropout_apply(dropout_key(nd, b, i), nd->drop_threshold, nd->drop_scale, nd->shared_row, in, ld,
                             aux_of(b, nd), a, n, k);
        else
            emit(a, k, in, ld, n, k, 0);
        return HF_OK;
    case HF_NODE_BATCHNORM: {
        /* trainable=False runs in inference mode, also in training (TF2 rule). */
        const int batch_stats = b->training && nd->trainable;
        float *stats = b->fixed + nd->stats;
        float *mm = net->params + nd->s_off;
        hf_batchnorm_forward(in, ld, a, n, k, param(net, net->params, nd->w_off),
                             param(net, net->params, nd->b_off), mm, mm + k, nd->epsilon,
                             nd->momentum, batch_stats, batch_stats, stats);
        return HF_OK;
    }
    case HF_NODE_NORMALIZATION: {
        const float *mean = net->params + nd->s_off;
        hf_normalization_forward(in, ld, a, n, k, mean, mean + k, nd->epsilon,
                                 b->fixed + nd->stats);
        return HF_OK;
    }
    case HF_NODE_ADD:
        emit(a, k, in, ld, n, k, 0);
        for (size_t p = 1; p < nd->n_inputs; p++) {
            const float *src = input_of(b, nd->inputs[p], &ld);
            emit(a, k, src, ld, n, k, 1);
        }
        return HF_OK;
    case HF_NODE_CONCATENATE: {
        size_t col = 0;
        for (size_t p = 0; p < nd->n_inputs; p++) {
            const size_t w = net->nodes[nd->inputs[p]].width;
            const float *src = input_of(b, nd->inputs[p], &ld);
            emit(a + col, k, src, ld, n, w, 0);
            col += w;
        }
        return HF_OK;
    }
    default:
        return HF_ERR_KIND;
    }
}

/* The whole graph forward; *penalty (when not NULL) receives the activity
 * penalties. Returns the output node's value. */
static hf_status forward(const batch *b, double *penalty, const float **result)
{
    const hf_network *net = b->net;
    for (size_t i = 0; i < net->n_nodes; i++) {
        if (!net->nodes[i].live)
            continue;
        hf_status st = forward_node(b, i, penalty);
        if (st != HF_OK)
            return st;
    }
    *result = value_of(b, net->output);
    return HF_OK;
}

/* The kernel and bias penalties, on the weights before the update. tf-keras
 * counts a frozen layer's penalty in the loss too (Layer.losses keeps its
 * regularizer callables; Keras 3 counts trainable weights only). */
static double weight_penalty(const hf_network *net)
{
    double total = 0.0;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const hf_node *nd = &net->nodes[i];
        if (nd->kind != HF_NODE_DENSE || !nd->live)
            continue;
        const size_t din = net->nodes[nd->inputs[0]].width;
        total += hf_penalty(net->params + nd->w_off, din * nd->width, nd->kernel_l1, nd->kernel_l2);
        if (nd->b_off >= 0)
            total += hf_penalty(net->params + nd->b_off, nd->width, nd->bias_l1, nd->bias_l2);
    }
    return total;
}

/* ---------------------------------------------------------------- backward */

/* g (dL/dz of a softmax/sigmoid output taking the loss from its logits) +=
 * the activity penalty's gradient taken through the activation, row by row
 * (z and a stay untouched: the metrics read them after the backward pass). */
static void activity_grad_to_logits(const hf_node *nd, const float *a, float *g, size_t n,
                                    size_t k)
{
    const float c1 = nd->activity_l1 / (float)n, c2 = 2.0f * nd->activity_l2 / (float)n;
    for (size_t i = 0; i < n; i++) {
        const float *ar = a + i * k;
        float *gr = g + i * k, dot = 0.0f;
        for (size_t j = 0; j < k; j++) {
            float sign = ar[j] > 0.0f ? 1.0f : (ar[j] < 0.0f ? -1.0f : 0.0f);
            dot += (c1 * sign + c2 * ar[j]) * ar[j];
        }
        for (size_t j = 0; j < k; j++) {
            float sign = ar[j] > 0.0f ? 1.0f : (ar[j] < 0.0f ? -1.0f : 0.0f);
            float d = c1 * sign + c2 * ar[j];
            gr[j] += nd->act == HF_ACT_SOFTMAX ? ar[j] * (d - dot) : d * ar[j] * (1.0f - ar[j]);
        }
    }
}

static hf_status backward_node(const batch *b, size_t i)
{
    hf_network *net = b->net;
    const hf_node *nd = &net->nodes[i];
    const size_t n = b->n, k = nd->width;
    float *g = grad_of(b, i), *a = value_of(b, i);
    size_t ld = 0;
    const size_t in0 = nd->n_inputs > 0 ? nd->inputs[0] : 0;
    const float *in = nd->n_inputs > 0 ? input_of(b, in0, &ld) : NULL;
    float *dx = nd->n_inputs > 0 ? grad_of(b, in0) : NULL;
    const int acc = nd->n_inputs > 0 ? nd->accumulate[0] : 0;
    switch (nd->kind) {
    case HF_NODE_DENSE: {
        const size_t din = net->nodes[in0].width;
        const int logits = i == net->output && b->logits_grad;
        if (nd->activity_l1 != 0.0f || nd->activity_l2 != 0.0f) {
            if (logits)
                activity_grad_to_logits(nd, a, g, n, k);
            else
                hf_penalty_grad(a, g, n * k, nd->activity_l1, nd->activity_l2, 1.0f / (float)n);
        }
        float *dw = nd->trainable ? net->grads + nd->w_off : NULL;
        float *db = nd->trainable ? param(net, net->grads, nd->b_off) : NULL;
        hf_status st = hf_dense_backward(net->blas, in, ld, net->params + nd->w_off, aux_of(b, nd),
                                         a, g, g, logits ? HF_ACT_LINEAR : nd->act, nd->alpha, dw,
                                         db, dx, acc, n, din, k);
        if (st != HF_OK)
            return st;
        if (dw != NULL) {
            hf_penalty_grad(net->params + nd->w_off, dw, din * k, nd->kernel_l1, nd->kernel_l2, 1.0f);
            if (db != NULL)
                hf_penalty_grad(net->params + nd->b_off, db, k, nd->bias_l1, nd->bias_l2, 1.0f);
        }
        return HF_OK;
    }
    case HF_NODE_ACTIVATION:
        if (dx == NULL)
            return HF_OK;
        if (i == net->output && b->logits_grad) {
            emit(dx, k, g, k, n, k, acc);
        } else if (acc) {
            hf_act_backward(nd->act, nd->alpha, aux_of(b, nd), a, g, g, n, k);
            emit(dx, k, g, k, n, k, 1);
        } else {
            hf_act_backward(nd->act, nd->alpha, aux_of(b, nd), a, g, dx, n, k);
        }
        return HF_OK;
    case HF_NODE_DROPOUT:
        if (dx == NULL)
            return HF_OK;
        if (b->training && nd->drop_threshold > 0) {
            const float *mask = aux_of(b, nd);
            if (acc) {
                HF_SIMD
                for (size_t t = 0; t < n * k; t++)
                    dx[t] += g[t] * mask[t];
            } else {
                HF_SIMD
                for (size_t t = 0; t < n * k; t++)
                    dx[t] = g[t] * mask[t];
            }
        } else {
            emit(dx, k, g, k, n, k, acc);
        }
        return HF_OK;
    case HF_NODE_BATCHNORM: {
        const int batch_stats = b->training && nd->trainable;
        float *stats = b->fixed + nd->stats;
        const float *mm = net->params + nd->s_off;
        hf_batchnorm_backward(in, ld, g, n, k, param(net, net->params, nd->w_off), mm, mm + k,
                              nd->epsilon, batch_stats, stats, dx, acc,
                              nd->trainable ? param(net, net->grads, nd->w_off) : NULL,
                              nd->trainable ? param(net, net->grads, nd->b_off) : NULL);
        return HF_OK;
    }
    case HF_NODE_NORMALIZATION:
        if (dx != NULL)
            hf_normalization_backward(g, dx, acc, n, k, net->params + nd->s_off + k, nd->epsilon,
                                      b->fixed + nd->stats);
        return HF_OK;
    case HF_NODE_ADD:
        for (size_t p = 0; p < nd->n_inputs; p++) {
            float *d = grad_of(b, nd->inputs[p]);
            if (d != NULL)
                emit(d, k, g, k, n, k, nd->accumulate[p]);
        }
        return HF_OK;
    case HF_NODE_CONCATENATE: {
        size_t col = 0;
        for (size_t p = 0; p < nd->n_inputs; p++) {
            const size_t w = net->nodes[nd->inputs[p]].width;
            float *d = grad_of(b, nd->inputs[p]);
            if (d != NULL)
                emit(d, w, g + col, k, n, w, nd->accumulate[p]);
            col += w;
        }
        return HF_OK;
    }
    default:
        return HF_ERR_KIND;
    }
}

static hf_status backward(const batch *b)
{
    const hf_network *net = b->net;
    for (size_t i = net->n_nodes; i-- > 0;) {
        if (!net->nodes[i].backward)
            continue;
        hf_status st = backward_node(b, i);
        if (st != HF_OK)
            return st;
    }
    return HF_OK;
}

/* ---------------------------------------------------------------- steps */

static hf_rows rows_of(const float *base, size_t width, const hf_data *d, size_t start)
{
    hf_rows r = {base, width, d->order, start};
    return r;
}

static hf_status check(const hf_network *net, const hf_data *d, size_t start, size_t count,
                       size_t batch, int need_y)
{
    if (net->n_nodes == 0 || net->output >= net->n_nodes || d->x_width != net->x_width ||
        batch == 0 || count == 0)
        return HF_ERR_SHAPE;
    if (output_act(net) >= 0 && net->nodes[net->output].aux < 0)
        return HF_ERR_SHAPE; /* a softmax/sigmoid output keeps its logits (hf_network.h) */
    if (start > d->n_positions || count > d->n_positions - start)
        return HF_ERR_RANGE;
    if (need_y) {
        const size_t k = hf_network_output_width(net);
        if (d->y == NULL || d->y_width != hf_loss_spec_y_width(&net->loss, k))
            return HF_ERR_SHAPE;
        if (hf_loss_spec_check(&net->loss) != HF_OK)
            return HF_ERR_KIND;
        for (size_t m = 0; m < net->n_metrics; m++) {
            if (hf_metric_spec_check(&net->metrics[m], k) != HF_OK)
                return HF_ERR_KIND;
            if (d->y_width != hf_metric_spec_y_width(&net->metrics[m], k))
                return HF_ERR_SHAPE;
        }
    }
    return HF_OK;
}

/* A batch over the workspace; x gathered when the data has an order (sgemm
 * needs the batch contiguous), else read in place. */
static batch begin(hf_network *net, const hf_data *d, size_t start, size_t n, size_t cap,
                   float *ws, int training)
{
    batch b = {.net = net, .rows = ws + cap * net->x_width, .cap = cap, .n = n, .training = training};
    b.fixed = b.rows + cap * net->row_floats;
    if (d->order == NULL) {
        b.x = d->x + start * d->x_width;
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(ws + i * d->x_width, d->x + (size_t)d->order[start + i] * d->x_width,
                   d->x_width * sizeof(float));
        b.x = ws;
    }
    return b;
}

static float *dense1_scratch(const hf_network *net, float *ws, size_t cap)
{
    return ws + cap * (net->x_width + net->row_floats) + net->fixed_floats;
}

/* Adds the batch's loss and metrics to state ((1 + n_metrics) x 2): the
 * network's accumulators, or a data-parallel step's deltas. */
static hf_status accumulate(const hf_network *net, const hf_data *d, size_t start, size_t n,
                            const float *pred, const float *logits, double loss_value,
                            float *state)
{
    const int act = output_act(net);
    const size_t k = hf_network_output_width(net);
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    hf_loss_tracker_update(state, loss_value, n);
    float *block = state + 2;
    for (size_t m = 0; m < net->n_metrics; m++) {
        hf_metric_spec spec = net->metrics[m];
        const float *p = pred;
        if (logits != NULL && hf_logits_substitute(hf_metric_crossentropy(&spec), act)) {
            spec.from_logits = 1;
            p = logits;
        }
        hf_status st = hf_metric_accumulate(&spec, &y, d->sw ? &sw : NULL, p, n, k, block);
        if (st != HF_OK)
            return st;
        block += hf_metric_state_floats(&net->metrics[m], k);
    }
    return HF_OK;
}

/* The one place the optimizer is called: the trainable variables only. */
static hf_status apply_update(hf_network *net, float lr)
{
    return hf_opt_apply(&net->opt, net->params, net->grads, net->slots, net->n_params, net->vars,
                        net->n_vars, lr, net->iterations);
}

static hf_status train_dense1(hf_network *net, const hf_data *d, size_t start, size_t n,
                              float *a, float *scratch, double *loss_value)
{
    const hf_node *nd = &net->nodes[1];
    hf_rows x = rows_of(d->x, d->x_width, d, start);
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    return hf_dense1_train(&x, &y, d->sw ? &sw : NULL, n, net->x_width, net->params + nd->w_off,
                           param(net, net->params, nd->b_off), nd->act, &net->loss,
                           net->grads + nd->w_off, param(net, net->grads, nd->b_off), a,
                           loss_value, scratch);
}

/* The loss of one batch into *value and, when g is not NULL, its gradient:
 * from the output's logits when tf-keras would take them (hf_logits.h),
 * then g is dL/dz and b->logits_grad is set. */
static hf_status batch_loss(batch *b, const hf_data *d, size_t start, const float *pred,
                            float *g, double *value)
{
    const hf_network *net = b->net;
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    hf_loss_spec spec = net->loss;
    const float *logits = logits_for(b, spec.kind);
    if (logits != NULL) {
        spec.from_logits = 1;
        pred = logits;
        b->logits_grad = g != NULL;
    }
    return hf_loss_eval(&spec, &y, d->sw ? &sw : NULL, pred, b->n, hf_network_output_width(net),
                        g, value);
}

/* Forward, loss and backward of one training batch: the gradients in
 * net->grads, the loss (penalties included) and the predictions (and the
 * logits, or NULL) for the metrics. The first half of train_one (and of a
 * data-parallel step). The fused single-unit kernel substitutes logits for
 * the loss itself; a crossentropy metric on logits takes the graph path. */
static hf_status gradients(hf_network *net, const hf_data *d, size_t start, size_t n, size_t cap,
                           size_t row0, float *ws, double *loss_out, const float **pred_out,
                           const float **logits_out)
{
    double loss_value = 0.0;
    const float *pred = NULL;
    *logits_out = NULL;
    hf_status st;
    if (net->dense1 && !metrics_take_logits(net)) {
        batch b = {.net = net, .rows = ws + cap * net->x_width, .cap = cap, .n = n, .training = 1};
        float *a = value_of(&b, 1);
        st = train_dense1(net, d, start, n, a, dense1_scratch(net, ws, cap), &loss_value);
        pred = a;
    } else {
        batch b = begin(net, d, start, n, cap, ws, 1);
        b.key_iteration = (uint64_t)net->iterations;
        b.row0 = row0;
        double penalty = weight_penalty(net);
        st = forward(&b, &penalty, &pred);
        if (st != HF_OK)
            return st;
        st = batch_loss(&b, d, start, pred, grad_of(&b, net->output), &loss_value);
        if (st != HF_OK)
            return st;
        if (output_act(net) >= 0)
            *logits_out = aux_of(&b, &net->nodes[net->output]);
        /* Keras adds sum(model.losses) to the loss it minimises and logs. */
        loss_value += penalty;
        st = backward(&b);
    }
    *loss_out = loss_value;
    *pred_out = pred;
    return st;
}

static hf_status train_one(hf_network *net, const hf_data *d, size_t start, size_t n, size_t cap,
                           float lr, float *ws)
{
    double loss_value = 0.0;
    const float *pred = NULL, *logits = NULL;
    hf_status st = gradients(net, d, start, n, cap, 0, ws, &loss_value, &pred, &logits);
    if (st != HF_OK)
        return st;
    /* Metrics see the predictions made before the update, as in Keras. */
    st = accumulate(net, d, start, n, pred, logits, loss_value, net->mstate);
    if (st != HF_OK)
        return st;
    st = apply_update(net, lr);
    if (st != HF_OK)
        return st;
    net->iterations += 1;
    return HF_OK;
}

hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                         size_t batch, float lr, float *ws)
{
    size_t ran;
    int stopped;
    return hf_train_run(net, data, start, count, batch, lr, NULL, 0, ws, &ran, &stopped);
}

hf_status hf_train_run(hf_network *net, const hf_data *data, size_t start, size_t count,
                       size_t batch, float lr, const float *rates, int stop_on_nonfinite, float *ws,
                       size_t *ran, int *stopped)
{
    *ran = 0;
    *stopped = 0;
    hf_status st = check(net, data, start, count, batch, 1);
    if (st != HF_OK)
        return st;
    if (rates == NULL && !isfinite(lr))
        return HF_ERR_NONFINITE;
    if (hf_opt_spec_check(&net->opt) != HF_OK)
        return HF_ERR_KIND;
    const size_t cap = count < batch ? count : batch;
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0, k = 0; done < count; done += batch, k++) {
        const float rate = rates != NULL ? rates[k] : lr;
        if (!isfinite(rate)) {
            st = HF_ERR_NONFINITE;
            break;
        }
        size_t n = count - done < batch ? count - done : batch;
        st = train_one(net, data, start + done, n, cap, rate, ws);
        if (st != HF_OK)
            break;
        *ran = k + 1;
        /* The running loss as fit's logs show it (a float): TerminateOnNaN's
         * test, after the batch, inside the run. */
        if (stop_on_nonfinite && !isfinite(net->mstate[0] / net->mstate[1])) {
            *stopped = 1;
            break;
        }
    }
    hf_fpenv_leave(env);
    return st;
}

/* The forward pass of one batch in inference or training mode; dense1
 * graphs in inference take the fused kernel unless the logits are needed. */
static hf_status forward_batch(hf_network *net, const hf_data *d, size_t start, size_t n,
                               size_t cap, float *ws, int training, uint64_t key_iteration,
                               float *out, double *penalty, const float **pred, int need_logits)
{
    if (net->dense1 && !training && !need_logits) {
        const hf_node *nd = &net->nodes[1];
        batch b = {.net = net, .rows = ws + cap * net->x_width, .cap = cap, .n = n, .out = out};
        float *a = out != NULL ? out : value_of(&b, 1);
        hf_rows x = rows_of(d->x, d->x_width, d, start);
        *pred = a;
        return hf_dense1_forward(&x, n, net->x_width, net->params + nd->w_off,
                                 param(net, net->params, nd->b_off), nd->act, a,
                                 dense1_scratch(net, ws, cap));
    }
    batch b = begin(net, d, start, n, cap, ws, training);
    b.key_iteration = key_iteration;
    b.out = out;
    return forward(&b, penalty, pred);
}

static hf_status test_one(hf_network *net, const hf_data *d, size_t start, size_t n, size_t cap,
                          float *ws)
{
    const float *pred = NULL;
    double penalty = weight_penalty(net);
    const int logits = takes_logits(net);
    hf_status st = forward_batch(net, d, start, n, cap, ws, 0, 0, NULL, &penalty, &pred, logits);
    if (st != HF_OK)
        return st;
    /* The same workspace view forward_batch used, to read the logits. */
    batch b = {.net = net, .rows = ws + cap * net->x_width, .cap = cap, .n = n};
    double loss_value = 0.0;
    st = batch_loss(&b, d, start, pred, NULL, &loss_value);
    if (st != HF_OK)
        return st;
    const float *z = logits ? aux_of(&b, &net->nodes[net->output]) : NULL;
    return accumulate(net, d, start, n, pred, z, loss_value + penalty, net->mstate);
}

hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                        size_t batch, float *ws)
{
    hf_status st = check(net, data, start, count, batch, 1);
    if (st != HF_OK)
        return st;
    const size_t cap = count < batch ? count : batch;
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0; done < count && st == HF_OK; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        st = test_one(net, data, start + done, n, cap, ws);
    }
    hf_fpenv_leave(env);
    return st;
}

hf_status hf_forward_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                           size_t batch, int training, int64_t iteration, float *out, float *ws)
{
    hf_status st = check(net, data, start, count, batch, 0);
    if (st != HF_OK)
        return st;
    if (net->nodes[net->output].kind == HF_NODE_INPUT)
        return HF_ERR_SHAPE;
    const size_t k = hf_network_output_width(net), cap = count < batch ? count : batch;
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0; done < count && st == HF_OK; done += batch) {
        size_t n = count - done < batch ? count - done : batch, p = start + done;
        const float *pred;
        st = forward_batch(net, data, p, n, cap, ws, training, (uint64_t)iteration, out + p * k,
                           NULL, &pred, 0);
    }
    hf_fpenv_leave(env);
    return st;
}

/* ---- The data-parallel step: train_one split around the gradient Allreduce.
 * hf_grad_step is train_one up to the update with the metrics going to deltas;
 * hf_update_step is the rest. With n == global_rows the pair computes exactly
 * what train_one computes (scale 1 is skipped; 0 + x == x for the deltas). */

static size_t mstate_floats(const hf_network *net)
{
    const size_t k = hf_network_output_width(net);
    size_t total = 2;
    for (size_t m = 0; m < net->n_metrics; m++)
        total += hf_metric_state_floats(&net->metrics[m], k);
    return total;
}

size_t hf_reduce_floats(const hf_network *net)
{
    return net->n_params + mstate_floats(net);
}

/* Any weight or activity penalty: a summed loss's share is not scaled, so
 * a penalty every rank adds in full could not be counted once. */
static int has_penalty(const hf_network *net)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        const hf_node *nd = &net->nodes[i];
        if (nd->live && nd->kind == HF_NODE_DENSE &&
            (nd->kernel_l1 != 0.0f || nd->kernel_l2 != 0.0f || nd->bias_l1 != 0.0f ||
             nd->bias_l2 != 0.0f || nd->activity_l1 != 0.0f || nd->activity_l2 != 0.0f))
            return 1;
    }
    return 0;
}

int hf_network_data_parallel_ok(const hf_network *net)
{
    /* Dropout draws the global batch's masks (row0); a trainable
     * BatchNormalization uses its share's batch statistics (tf-keras's
     * per-replica rule; the caller averages the moving statistics). */
    return net->loss.reduction == HF_REDUCE_SUM_OVER_BATCH_SIZE || !has_penalty(net);
}

hf_status hf_grad_step(hf_network *net, const hf_data *data, size_t start, size_t n,
                       size_t row0, size_t global_rows, float *mdelta, float *ws)
{
    if (global_rows == 0 || n > global_rows || row0 > global_rows - n)
        return HF_ERR_SHAPE;
    if (!hf_network_data_parallel_ok(net))
        return HF_ERR_KIND;
    hf_status st = check(net, data, start, n == 0 ? 1 : n, n == 0 ? 1 : n, 1);
    if (n == 0 && st == HF_ERR_RANGE && start <= data->n_positions)
        st = HF_OK; /* an empty share may sit at the very end */
    if (st != HF_OK)
        return st;
    memset(mdelta, 0, mstate_floats(net) * sizeof(float));
    if (n == 0) {
        /* An empty share of a tiny last batch: nothing to add to the sum. */
        memset(net->grads, 0, net->n_params * sizeof(float));
        return HF_OK;
    }
    /* A mean loss: the share's gradient times n / global_rows. A summed
     * loss (no penalty) is already its share of the global sum. */
    const int summed = net->loss.reduction == HF_REDUCE_SUM;
    const float scale = n == global_rows || summed ? 1.0f : (float)n / (float)global_rows;
    double loss_value = 0.0;
    const float *pred = NULL, *logits = NULL;
    hf_fpenv env = hf_fpenv_enter();
    st = gradients(net, data, start, n, n, row0, ws, &loss_value, &pred, &logits);
    /* The whole gradient is scaled (not only the loss's), so that a term
     * every rank adds in full, such as a weight penalty's, is counted once
     * in the sum. */
    if (st == HF_OK && scale != 1.0f)
        for (size_t i = 0; i < net->n_params; i++)
            net->grads[i] *= scale;
    /* The loss tracker weighs a batch's loss by its rows: a summed share
     * S_r counts as S_r * global_rows / n, so the ranks add S * global_rows. */
    if (summed && n != global_rows)
        loss_value = loss_value * (double)global_rows / (double)n;
    if (st == HF_OK)
        st = accumulate(net, data, start, n, pred, logits, loss_value, mdelta);
    hf_fpenv_leave(env);
    return st;
}

hf_status hf_update_step(hf_network *net, const float *mdelta, float lr)
{
    if (!isfinite(lr))
        return HF_ERR_NONFINITE;
    if (net->iterations == INT64_MAX)
        return HF_ERR_RANGE;
    const size_t m = mstate_floats(net);
    for (size_t i = 0; i < m; i++)
        net->mstate[i] += mdelta[i];
    hf_fpenv env = hf_fpenv_enter();
    hf_status st = apply_update(net, lr);
    hf_fpenv_leave(env);
    if (st != HF_OK)
        return st;
    net->iterations += 1;
    return HF_OK;
}
