/* tf-keras's logits substitution. When the model's output is produced by a
 * softmax (a Dense or Activation/Softmax layer's) and the loss is
 * categorical or sparse categorical crossentropy, or by a sigmoid and the
 * loss is binary crossentropy, tf-keras's backend crossentropies find the
 * pre-activation on the output tensor (_keras_logits, or the Softmax/Sigmoid
 * op's input in a traced step) and compute the loss from it as logits:
 * no clipping of probabilities, whatever from_logits says (with
 * from_logits=True it warns). Crossentropy metrics on that output go through
 * the same functions, so they substitute too. Keras 3 does not: it clips.
 *
 * The gradient is then the logits one, dL/dz = p - y for softmax + CCE,
 * also where probabilities saturate (the clipped path's gradient is zero
 * there). */
#ifndef HF_LOGITS_H
#define HF_LOGITS_H

#include "hf_activation.h"
#include "hf_loss.h"
#include "hf_metric.h"

/* Whether a crossentropy of kind loss_kind (HF_LOSS_*) on an output made by
 * activation act is computed from the pre-activation. */
static inline int hf_logits_substitute(int loss_kind, int act)
{
    if (act == HF_ACT_SOFTMAX)
        return loss_kind == HF_LOSS_CCE || loss_kind == HF_LOSS_SCCE;
    if (act == HF_ACT_SIGMOID)
        return loss_kind == HF_LOSS_BCE;
    return 0;
}

/* The crossentropy a metric computes (HF_LOSS_*), or -1 when it is not one. */
static inline int hf_metric_crossentropy(const hf_metric_spec *m)
{
    switch (m->kind) {
    case HF_METRIC_BCE:
        return HF_LOSS_BCE;
    case HF_METRIC_CCE:
        return HF_LOSS_CCE;
    case HF_METRIC_SCCE:
        return HF_LOSS_SCCE;
    case HF_METRIC_LOSS: {
        const int k = m->loss_kind;
        return k == HF_LOSS_BCE || k == HF_LOSS_CCE || k == HF_LOSS_SCCE ? k : -1;
    }
    default:
        return -1;
    }
}

#endif
