#include "hf_network.h"

#include <math.h>
#include <string.h>

#include "hf_dense.h"
#include "hf_dense1.h"
#include "hf_fpenv.h"
#include "hf_loss.h"
#include "hf_metric.h"
#include "hf_rows.h"

/* Workspace layout for batches of up to B rows:
 *   gathered x (B x dims[0]) | a_0 .. a_{L-1} (B x dims[l+1]) | d0, d1 (B x max width)
 *   | dense1 scratch (HF_DENSE1_SCRATCH(dims[0]))
 * The dense1 path only uses the a_0 slot (B x 1) and its scratch. */
static size_t max_width(const hf_network *net)
{
    size_t m = 1;
    for (size_t l = 1; l <= net->n_layers; l++)
        m = net->dims[l] > m ? net->dims[l] : m;
    return m;
}

static size_t general_floats(const hf_network *net, size_t batch)
{
    size_t total = batch * net->dims[0];
    for (size_t l = 1; l <= net->n_layers; l++)
        total += batch * net->dims[l];
    return total + 2 * batch * max_width(net);
}

/* ... followed by the dense1 path's alignment scratch. */
size_t hf_network_workspace(const hf_network *net, size_t batch)
{
    return general_floats(net, batch) + HF_DENSE1_SCRATCH(net->dims[0]);
}

int hf_network_is_dense1(const hf_network *net)
{
    return net->n_layers == 1 && net->dims[1] == 1;
}

static float *layer_w(const hf_network *net, float *base, size_t l) { return base + net->w_off[l]; }

static float *layer_b(const hf_network *net, float *base, size_t l)
{
    return net->b_off[l] < 0 ? NULL : base + net->b_off[l];
}

static hf_rows rows_of(const float *base, size_t width, const hf_data *d, size_t start)
{
    hf_rows r = {base, width, d->order, start};
    return r;
}

static hf_status check(const hf_network *net, const hf_data *d, size_t start, size_t count,
                       size_t batch, int need_y)
{
    if (net->n_layers == 0 || d->x_width != net->dims[0] || batch == 0 || count == 0)
        return HF_ERR_SHAPE;
    if (start > d->n_positions || count > d->n_positions - start)
        return HF_ERR_RANGE;
    if (need_y) {
        const size_t k = net->dims[net->n_layers];
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

/* Forward through all layers; returns the last activation (n x dout). When
 * out is not NULL the last layer writes there instead of the workspace. */
static hf_status forward(const hf_network *net, const hf_data *d, size_t start, size_t n,
                         float *ws, float *out, const float **result)
{
    const size_t B_x = n * net->dims[0];
    const float *in;
    if (d->order == NULL) {
        in = d->x + start * d->x_width;
    } else {
        /* sgemm needs the batch contiguous: gather the rows once. */
        for (size_t i = 0; i < n; i++)
            memcpy(ws + i * d->x_width, d->x + (size_t)d->order[start + i] * d->x_width,
                   d->x_width * sizeof(float));
        in = ws;
    }
    float *a = ws + B_x;
    for (size_t l = 0; l < net->n_layers; l++) {
        float *dst = (out && l + 1 == net->n_layers) ? out : a;
        hf_status st = hf_dense_forward(net->blas, in, net->dims[l], layer_w(net, net->params, l),
                                        layer_b(net, net->params, l), net->acts[l], dst, n,
                                        net->dims[l], net->dims[l + 1]);
        if (st != HF_OK)
            return st;
        in = dst;
        a += n * net->dims[l + 1];
    }
    *result = in;
    return HF_OK;
}

static hf_status accumulate(hf_network *net, const hf_data *d, size_t start, size_t n,
                            const float *pred, double loss_value)
{
    const size_t k = net->dims[net->n_layers];
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    hf_loss_tracker_update(net->mstate, loss_value, n);
    float *block = net->mstate + 2;
    for (size_t m = 0; m < net->n_metrics; m++) {
        hf_status st = hf_metric_accumulate(&net->metrics[m], &y, d->sw ? &sw : NULL, pred, n, k,
                                            block);
        if (st != HF_OK)
            return st;
        block += hf_metric_state_floats(&net->metrics[m], k);
    }
    return HF_OK;
}

static hf_status train_general(hf_network *net, const hf_data *d, size_t start, size_t n,
                               float *ws, double *loss_value, const float **pred)
{
    const size_t L = net->n_layers, k = net->dims[L];
    const size_t B_x = n * net->dims[0];
    hf_status st = forward(net, d, start, n, ws, NULL, pred);
    if (st != HF_OK)
        return st;
    size_t a_total = 0;
    for (size_t l = 1; l <= L; l++)
        a_total += n * net->dims[l];
    float *delta = ws + B_x + a_total, *other = delta + n * max_width(net);

    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    st = hf_loss_eval(&net->loss, &y, d->sw ? &sw : NULL, *pred, n, k, delta, loss_value);
    if (st != HF_OK)
        return st;

    /* Backward, last layer first; a_l sits after the gathered x. */
    float *a_l = ws + B_x + a_total;
    for (size_t l = L; l-- > 0;) {
        a_l -= n * net->dims[l + 1];
        const float *in = l == 0 ? (d->order ? ws : d->x + start * d->x_width) : a_l - n * net->dims[l];
        float *dx = l == 0 ? NULL : other;
        st = hf_dense_backward(net->blas, in, net->dims[l], layer_w(net, net->params, l), a_l,
                               delta, delta, net->acts[l], layer_w(net, net->grads, l),
                               layer_b(net, net->grads, l), dx, n, net->dims[l], net->dims[l + 1]);
        if (st != HF_OK)
            return st;
        float *t = delta;
        delta = other;
        other = t;
    }
    return HF_OK;
}

static hf_status train_dense1(hf_network *net, const hf_data *d, size_t start, size_t n,
                              float *ws, float *scratch, double *loss_value, const float **pred)
{
    hf_rows x = rows_of(d->x, d->x_width, d, start);
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    float *a = ws + n * net->dims[0];
    *pred = a;
    return hf_dense1_train(&x, &y, d->sw ? &sw : NULL, n, net->dims[0],
                           layer_w(net, net->params, 0), layer_b(net, net->params, 0),
                           net->acts[0], &net->loss, layer_w(net, net->grads, 0),
                           layer_b(net, net->grads, 0), a, loss_value, scratch);
}

static hf_status train_one(hf_network *net, const hf_data *d, size_t start, size_t n, float lr,
                           float *ws, float *scratch)
{
    double loss_value = 0.0;
    const float *pred = NULL;
    hf_status st = hf_network_is_dense1(net)
                       ? train_dense1(net, d, start, n, ws, scratch, &loss_value, &pred)
                       : train_general(net, d, start, n, ws, &loss_value, &pred);
    if (st != HF_OK)
        return st;
    /* Metrics see the predictions made before the update, as in Keras. */
    st = accumulate(net, d, start, n, pred, loss_value);
    if (st != HF_OK)
        return st;
    st = hf_opt_apply(&net->opt, net->params, net->grads, net->slots, net->n_params, net->vars,
                      net->n_vars, lr, net->iterations);
    if (st != HF_OK)
        return st;
    net->iterations += 1;
    return HF_OK;
}

hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                         size_t batch, float lr, float *ws)
{
    hf_status st = check(net, data, start, count, batch, 1);
    if (st != HF_OK)
        return st;
    if (!isfinite(lr))
        return HF_ERR_NONFINITE;
    if (hf_opt_spec_check(&net->opt) != HF_OK)
        return HF_ERR_KIND;
    float *scratch = ws + general_floats(net, count < batch ? count : batch);
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0; done < count && st == HF_OK; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        st = train_one(net, data, start + done, n, lr, ws, scratch);
    }
    hf_fpenv_leave(env);
    return st;
}

static hf_status test_one(hf_network *net, const hf_data *d, size_t start, size_t n, float *ws,
                          float *scratch)
{
    const float *pred = NULL;
    hf_status st;
    if (hf_network_is_dense1(net)) {
        hf_rows x = rows_of(d->x, d->x_width, d, start);
        float *a = ws + n * net->dims[0];
        st = hf_dense1_forward(&x, n, net->dims[0], layer_w(net, net->params, 0),
                               layer_b(net, net->params, 0), net->acts[0], a, scratch);
        pred = a;
    } else {
        st = forward(net, d, start, n, ws, NULL, &pred);
    }
    if (st != HF_OK)
        return st;
    hf_rows y = rows_of(d->y, d->y_width, d, start);
    hf_rows sw = rows_of(d->sw, 1, d, start);
    double loss_value = 0.0;
    st = hf_loss_eval(&net->loss, &y, d->sw ? &sw : NULL, pred, n, net->dims[net->n_layers], NULL,
                      &loss_value);
    if (st != HF_OK)
        return st;
    return accumulate(net, d, start, n, pred, loss_value);
}

hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                        size_t batch, float *ws)
{
    hf_status st = check(net, data, start, count, batch, 1);
    if (st != HF_OK)
        return st;
    float *scratch = ws + general_floats(net, count < batch ? count : batch);
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0; done < count && st == HF_OK; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        st = test_one(net, data, start + done, n, ws, scratch);
    }
    hf_fpenv_leave(env);
    return st;
}

hf_status hf_predict_steps(const hf_network *net, const hf_data *data, size_t start,
                           size_t count, size_t batch, float *out, float *ws)
{
    hf_status st = check(net, data, start, count, batch, 0);
    if (st != HF_OK)
        return st;
    const size_t k = net->dims[net->n_layers];
    float *scratch = ws + general_floats(net, count < batch ? count : batch);
    hf_fpenv env = hf_fpenv_enter();
    for (size_t done = 0; done < count && st == HF_OK; done += batch) {
        size_t n = count - done < batch ? count - done : batch, p = start + done;
        if (hf_network_is_dense1(net)) {
            hf_rows x = rows_of(data->x, data->x_width, data, p);
            st = hf_dense1_forward(&x, n, net->dims[0], layer_w(net, net->params, 0),
                                   layer_b(net, net->params, 0), net->acts[0], out + p, scratch);
        } else {
            const float *res;
            st = forward(net, data, p, n, ws, out + p * k, &res);
        }
    }
    hf_fpenv_leave(env);
    return st;
}
