"""tf-keras's logits substitution, the twin of csrc/hf_logits.h: a
crossentropy on an output made by a softmax (categorical, sparse categorical)
or a sigmoid (binary) is computed from the pre-activation as logits, for the
loss and for crossentropy metrics alike. Keras 3 clips probabilities instead."""

from __future__ import annotations

from hookfit._reference.codes import (
    ACT_SIGMOID, ACT_SOFTMAX, LOSS_BCE, LOSS_CCE, LOSS_SCCE, METRIC_BCE, METRIC_CCE, METRIC_LOSS,
    METRIC_SCCE, NODE_ACTIVATION, NODE_DENSE,
)

_CROSSENTROPIES = (LOSS_BCE, LOSS_CCE, LOSS_SCCE)


def substitutes(loss_kind: int, act: int) -> bool:
    """Whether a crossentropy of kind loss_kind on an output made by act is
    computed from the pre-activation."""
    if act == ACT_SOFTMAX:
        return loss_kind in (LOSS_CCE, LOSS_SCCE)
    return act == ACT_SIGMOID and loss_kind == LOSS_BCE


def metric_crossentropy(spec: dict) -> int:
    """The LOSS_* a metric spec computes, or -1 when it is not a crossentropy."""
    kind = spec["kind"]
    if kind == METRIC_LOSS:
        return spec.get("loss_kind", -1) if spec.get("loss_kind") in _CROSSENTROPIES else -1
    return {METRIC_BCE: LOSS_BCE, METRIC_CCE: LOSS_CCE, METRIC_SCCE: LOSS_SCCE}.get(kind, -1)


def output_act(node: dict) -> int:
    """The output node's activation when it is one logits are kept for, else -1."""
    if node["kind"] in (NODE_DENSE, NODE_ACTIVATION) and node["act"] in (ACT_SOFTMAX, ACT_SIGMOID):
        return node["act"]
    return -1
