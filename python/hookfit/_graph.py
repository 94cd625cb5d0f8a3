"""The graph spec of ``Network.from_graph``: checked, and laid out once.

Shared by the compiled core (``_core_network.pxi`` copies the result into
its C node structs) and the NumPy twin, so both accept and refuse the same
graphs with the same errors and place every weight at the same offset.
The node dicts are described in ``_core.pyi`` (``Network.from_graph``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hookfit._core import (
    ACT_ELU, ACT_LEAKY_RELU, ACT_LINEAR, ACT_SIGMOID, ACT_SOFTMAX, ACT_GELU, ACT_SWISH,
    N_ACTIVATIONS,
    NODE_ACTIVATION, NODE_ADD, NODE_BATCHNORM, NODE_CONCATENATE, NODE_DENSE, NODE_DROPOUT,
    NODE_INPUT, NODE_NORMALIZATION,
)
from hookfit.errors import DtypeError, KindError, ShapeError, WorkspaceError

# Matrix sizes reach sgemm as a 32-bit int; batch rows and columns of the
# dropout counter fit 31 bits too.
MAX_WIDTH = 2**31 - 1
DROPOUT_BITS = 24

NODE_NAMES = {
    NODE_INPUT: "input", NODE_DENSE: "dense", NODE_ACTIVATION: "activation",
    NODE_DROPOUT: "dropout", NODE_BATCHNORM: "batchnorm", NODE_NORMALIZATION: "normalization",
    NODE_ADD: "add", NODE_CONCATENATE: "concatenate",
}

# Required keys per kind ("kind" and the optional "name"/"alpha" aside).
_KEYS = {
    NODE_INPUT: ("offset", "width"),
    NODE_DENSE: ("inputs", "units", "activation", "use_bias", "trainable", "kernel_l1",
                 "kernel_l2", "bias_l1", "bias_l2", "activity_l1", "activity_l2"),
    NODE_ACTIVATION: ("inputs", "activation"),
    NODE_DROPOUT: ("inputs", "rate", "seed", "noise_shape_rows"),
    NODE_BATCHNORM: ("inputs", "momentum", "epsilon", "center", "scale", "trainable"),
    NODE_NORMALIZATION: ("inputs", "epsilon"),
    NODE_ADD: ("inputs",),
    NODE_CONCATENATE: ("inputs",),
}
_OPTIONAL = {"name", "alpha"}
_HAS_ALPHA = (NODE_DENSE, NODE_ACTIVATION)


def needs_z(act: int) -> bool:
    """The activation's derivative needs its input, not only its output."""
    return act in (ACT_GELU, ACT_SWISH)


def default_alpha(act: int) -> float:
    """elu's alpha 1.0; leaky_relu's negative slope 0.2 (tf.nn.leaky_relu, Keras 3's string)."""
    return 0.2 if act == ACT_LEAKY_RELU else 1.0


def _where(i: int, node: dict) -> str:
    name = node.get("name") if isinstance(node, dict) else None
    return f"nodes[{i}]" + (f" ({name!r})" if name else "")


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DtypeError(f"{what} must be an integer; got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ShapeError(f"{what} must be an integer in [{lo}, {hi}]; got {value}")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise DtypeError(f"{what} must be True or False; got {value!r}")
    return bool(value)


def _float(value: Any, what: str, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DtypeError(f"{what} must be a number; got {value!r}")
    value = float(value)
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if not math.isfinite(value) or below or above:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise KindError(f"{what} must be a finite number in {left}{lo}, {hi}{right}; got {value!r}")
    return value


def _act(value: Any, what: str) -> int:
    act = _int(value, what, -(2**63), 2**63)
    if not 0 <= act < N_ACTIVATIONS:
        raise KindError(f"{what} must be one of the ACT_* codes (0-{N_ACTIVATIONS - 1}); got {act}")
    return act


class Graph:
    """A checked graph: normalised nodes (dicts with every field the C node
    has), the parameter layout, the trainable variables and the workspace
    layout. Raises ShapeError/KindError/DtypeError naming the node and key."""

    def __init__(self, x_width: Any, nodes: Any, output: Any):
        self.x_width = _int(x_width, "x_width", 1, MAX_WIDTH)
        if not isinstance(nodes, (list, tuple)) or not nodes:
            raise ShapeError("nodes must be a non-empty list of node dicts in topological order")
        self.output = _int(output, "output", 0, len(nodes) - 1)
        self.nodes: list[dict] = []
        self.n_params = 0
        self.weights: list[tuple[int, str, int, tuple, bool]] = []  # node, name, offset, shape, trainable
        for i, spec in enumerate(nodes):
            self.nodes.append(self._node(i, spec))
        if self.nodes[self.output]["kind"] == NODE_INPUT:
            raise ShapeError(
                f"output is nodes[{self.output}], an input node; the output must be computed by a layer"
            )
        self._analyse()

    # ---- one node

    def _node(self, i: int, spec: Any) -> dict:
        if not isinstance(spec, dict):
            raise DtypeError(f"nodes[{i}] must be a dict; got {type(spec).__name__}")
        where = _where(i, spec)
        kind = _int(spec.get("kind"), f"{where}['kind']", -(2**63), 2**63) if "kind" in spec else None
        if kind not in _KEYS:
            raise KindError(f"{where}['kind'] must be one of the NODE_* codes; got {spec.get('kind')!r}")
        missing = [k for k in _KEYS[kind] if k not in spec]
        if missing:
            raise KindError(f"{where} ({NODE_NAMES[kind]}) needs the keys {missing}")
        allowed = set(_KEYS[kind]) | {"kind", "name"} | ({"alpha"} if kind in _HAS_ALPHA else set())
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise KindError(
                f"{where} ({NODE_NAMES[kind]}) has unknown keys {unknown}; it takes {sorted(allowed)}"
            )
        node: dict[str, Any] = dict(kind=kind, name=spec.get("name"), inputs=[], width=0, offset=0,
                    act=ACT_LINEAR, alpha=1.0, w_off=-1, b_off=-1, s_off=-1, trainable=False,
                    kernel_l1=0.0, kernel_l2=0.0, bias_l1=0.0, bias_l2=0.0, activity_l1=0.0,
                    activity_l2=0.0, seed=0, rate=0.0, drop_threshold=0,
                    drop_scale=np.float32(1.0), shared_row=False, momentum=0.0, epsilon=0.0,
                    center=False, scale=False, use_bias=False)
        if kind == NODE_INPUT:
            node["offset"] = _int(spec["offset"], f"{where}['offset']", 0, self.x_width - 1)
            node["width"] = _int(spec["width"], f"{where}['width']", 1, self.x_width - node["offset"])
            return node
        node["inputs"] = self._inputs(i, where, kind, spec["inputs"])
        widths = [self.nodes[j]["width"] for j in node["inputs"]]
        if kind in _HAS_ALPHA:
            node["act"] = _act(spec["activation"], f"{where}['activation']")
            alpha = spec.get("alpha")
            if alpha is None:
                node["alpha"] = default_alpha(node["act"])
            else:
                lo = 0.0 if node["act"] == ACT_LEAKY_RELU else -math.inf
                node["alpha"] = _float(alpha, f"{where}['alpha']", lo)
        if kind == NODE_DENSE:
            units = _int(spec["units"], f"{where}['units']", 1, MAX_WIDTH)
            node["width"] = units
            node["use_bias"] = _bool(spec["use_bias"], f"{where}['use_bias']")
            node["trainable"] = _bool(spec["trainable"], f"{where}['trainable']")
            for key in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2", "activity_l1", "activity_l2"):
                node[key] = _float(spec[key], f"{where}['{key}']", 0.0)
            node["w_off"] = self._weight(i, "kernel", (widths[0], units), node["trainable"])
            if node["use_bias"]:
                node["b_off"] = self._weight(i, "bias", (units,), node["trainable"])
        elif kind == NODE_ACTIVATION:
            node["width"] = widths[0]
        elif kind == NODE_DROPOUT:
            node["width"] = widths[0]
            rate = _float(spec["rate"], f"{where}['rate']", 0.0, 1.0, hi_open=True)
            node["rate"] = rate
            node["drop_threshold"] = int(rate * 2**DROPOUT_BITS)
            node["drop_scale"] = np.float32(1.0) / (np.float32(1.0) - np.float32(rate))
            node["seed"] = _int(spec["seed"], f"{where}['seed']", 0, 2**64 - 1)
            node["shared_row"] = _bool(spec["noise_shape_rows"], f"{where}['noise_shape_rows']")
        elif kind == NODE_BATCHNORM:
            k = widths[0]
            node["width"] = k
            node["momentum"] = _float(spec["momentum"], f"{where}['momentum']", 0.0, 1.0)
            node["epsilon"] = _float(spec["epsilon"], f"{where}['epsilon']", 0.0, lo_open=True)
            node["center"] = _bool(spec["center"], f"{where}['center']")
            node["scale"] = _bool(spec["scale"], f"{where}['scale']")
            node["trainable"] = _bool(spec["trainable"], f"{where}['trainable']")
            if node["scale"]:
                node["w_off"] = self._weight(i, "gamma", (k,), node["trainable"])
            if node["center"]:
                node["b_off"] = self._weight(i, "beta", (k,), node["trainable"])
            node["s_off"] = self._weight(i, "moving_mean", (k,), False)
            self._weight(i, "moving_variance", (k,), False)
        elif kind == NODE_NORMALIZATION:
            k = widths[0]
            node["width"] = k
            node["epsilon"] = _float(spec["epsilon"], f"{where}['epsilon']", 0.0, lo_open=True)
            node["s_off"] = self._weight(i, "mean", (k,), False)
            self._weight(i, "variance", (k,), False)
        elif kind == NODE_ADD:
            if len(set(widths)) != 1:
                raise ShapeError(f"{where} (add) needs inputs of one width; got widths {widths}")
            node["width"] = widths[0]
        elif kind == NODE_CONCATENATE:
            node["width"] = sum(widths)
            if node["width"] > MAX_WIDTH:
                raise ShapeError(f"{where} (concatenate) is {node['width']} wide; at most {MAX_WIDTH}")
        return node

    def _inputs(self, i: int, where: str, kind: int, inputs: Any) -> list[int]:
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ShapeError(f"{where}['inputs'] must be a non-empty list of node indices; got {inputs!r}")
        if kind not in (NODE_ADD, NODE_CONCATENATE) and len(inputs) != 1:
            raise ShapeError(
                f"{where} ({NODE_NAMES[kind]}) takes exactly one input; got {len(inputs)}"
            )
        out = []
        for p, j in enumerate(inputs):
            j = _int(j, f"{where}['inputs'][{p}]", -(2**63), 2**63)
            if not 0 <= j < i:
                raise ShapeError(
                    f"{where}['inputs'][{p}] = {j} must name an earlier node (0 <= index < {i}): "
                    "nodes come in topological order"
                )
            out.append(j)
        return out

    def _weight(self, node: int, name: str, shape: tuple, trainable: bool) -> int:
        offset = self.n_params
        self.weights.append((node, name, offset, shape, trainable))
        self.n_params += int(np.prod(shape))
        return offset

    # ---- the whole graph

    def _analyse(self) -> None:
        nodes = self.nodes
        n = len(nodes)
        live = [False] * n
        live[self.output] = True
        for i in range(n - 1, -1, -1):
            if live[i]:
                for j in nodes[i]["inputs"]:
                    live[j] = True
        up = [False] * n  # a trainable weight at or above this node
        for i, nd in enumerate(nodes):
            own = nd["trainable"] and (nd["kind"] == NODE_DENSE or nd["w_off"] >= 0 or nd["b_off"] >= 0)
            up[i] = own or any(up[j] for j in nd["inputs"])
        seen = [False] * n
        for i in range(n - 1, -1, -1):
            nd = nodes[i]
            nd["live"] = live[i]
            nd["backward"] = live[i] and up[i]
            nd["accumulate"] = []
            for j in nd["inputs"]:
                writes = nd["backward"] and live[j] and up[j]
                nd["accumulate"].append(writes and seen[j])
                if writes:
                    seen[j] = True
        # Workspace: per-row offsets (in floats) of each node's buffers.
        row, fixed = 0, 0
        for nd in nodes:
            nd["val"] = nd["aux"] = nd["grad"] = nd["stats"] = -1
            if nd["kind"] == NODE_INPUT or not nd["live"]:
                continue
            k = nd["width"]
            nd["val"], row = row, row + k
            # A softmax/sigmoid output keeps its logits: tf-keras computes a
            # crossentropy on it from them (csrc/hf_logits.h).
            has_aux = (nd["kind"] in _HAS_ALPHA and (needs_z(nd["act"]) or (
                nd is nodes[self.output] and nd["act"] in (ACT_SOFTMAX, ACT_SIGMOID)))) or (
                nd["kind"] == NODE_DROPOUT and nd["drop_threshold"] > 0)
            if has_aux:
                nd["aux"], row = row, row + k
            if nd["backward"]:
                nd["grad"], row = row, row + k
            if nd["kind"] == NODE_BATCHNORM:
                nd["stats"], fixed = fixed, fixed + 4 * k
            elif nd["kind"] == NODE_NORMALIZATION:
                nd["stats"], fixed = fixed, fixed + k
        self.row_floats, self.fixed_floats = row, fixed
        # Trainable variables, and the same merged where contiguous.
        self.vars = [(off, int(np.prod(shape))) for _, _, off, shape, t in self.weights if t]
        self.spans: list[list[int]] = []
        for off, size in self.vars:
            if self.spans and self.spans[-1][0] + self.spans[-1][1] == off:
                self.spans[-1][1] += size
            else:
                self.spans.append([off, size])
        d = nodes[1] if n == 2 else None
        self.dense1 = bool(
            d is not None and self.output == 1 and nodes[0]["offset"] == 0
            and nodes[0]["width"] == self.x_width and d["kind"] == NODE_DENSE and d["width"] == 1
            and d["act"] <= ACT_SOFTMAX and d["trainable"]
            and not any(d[k] for k in ("kernel_l1", "kernel_l2", "bias_l1", "bias_l2",
                                       "activity_l1", "activity_l2"))
        )

    def initial_params(self) -> np.ndarray:
        """Zeros, except the ones Keras starts at: BN gamma and moving variance,
        Normalization variance (so an unset layer divides by 1, not 0)."""
        try:
            params = np.zeros(self.n_params, np.float32)
        except (MemoryError, ValueError):  # ValueError: more bytes than an address space
            raise WorkspaceError(f"cannot allocate {self.n_params} parameters; use smaller layers") from None
        for _, name, off, shape, _ in self.weights:
            if name in ("gamma", "moving_variance", "variance"):
                params[off:off + int(np.prod(shape))] = 1.0
        return params

    def node_weights(self, params: np.ndarray, i: int) -> list[np.ndarray]:
        return [params[off:off + int(np.prod(shape))].reshape(shape)
                for node, _, off, shape, _ in self.weights if node == i]

    def variables(self) -> list[tuple[int, str, int, int, bool]]:
        return [(node, name, off, int(np.prod(shape)), t) for node, name, off, shape, t in self.weights]

    def trainable_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_params, bool)
        for off, size in self.vars:
            mask[off:off + size] = True
        return mask


def chain(input_dim: Any, units: Any, activations: Any, use_bias: Any) -> tuple[int, list[dict], int]:
    """The graph of a Sequential stack of Dense layers (the old constructor)."""
    units, activations, use_bias = list(units), list(activations), list(use_bias)
    if not units:
        raise ShapeError("units must name at least one layer; got an empty sequence")
    if len(activations) != len(units) or len(use_bias) != len(units):
        raise ShapeError(
            f"units, activations and use_bias must have the same length; got "
            f"{len(units)}, {len(activations)}, {len(use_bias)}"
        )
    width = _int(input_dim, "input_dim", 1, MAX_WIDTH)
    nodes: list[dict] = [dict(kind=NODE_INPUT, offset=0, width=width)]
    for l, (u, a, b) in enumerate(zip(units, activations, use_bias)):
        nodes.append(dict(kind=NODE_DENSE, inputs=[l], units=_int(u, f"units[{l}]", 1, MAX_WIDTH),
                          activation=_act(a, f"activations[{l}]"), use_bias=bool(b), trainable=True,
                          kernel_l1=0.0, kernel_l2=0.0, bias_l1=0.0, bias_l2=0.0,
                          activity_l1=0.0, activity_l2=0.0))
    return width, nodes, len(nodes) - 1
