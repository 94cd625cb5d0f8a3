"""Activations, the dense layer and the dropout mask (csrc/hf_activation.c,
hf_dense.c, hf_dropout.c), in float64."""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from hookfit._graph import default_alpha
from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --------------------------------------------------------------------------
# Activations (tf-keras 2.21 formulas; see csrc/hf_activation.h)


def _alpha(activation, alpha):
    return default_alpha(activation) if alpha is None else float(alpha)


def activation_forward(z: np.ndarray, activation: int, alpha=None) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    al = _alpha(activation, alpha)
    if activation == ACT_LINEAR:
        return z
    if activation == ACT_RELU:
        return np.maximum(z, 0.0)
    if activation == ACT_SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if activation == ACT_TANH:
        return np.tanh(z)
    if activation == ACT_SOFTMAX:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if activation == ACT_ELU:
        return np.where(z > 0, z, al * np.expm1(np.minimum(z, 0.0)))
    if activation == ACT_SELU:
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if activation == ACT_GELU:
        return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))
    if activation == ACT_SOFTPLUS:
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    if activation == ACT_SOFTSIGN:
        return z / (1.0 + np.abs(z))
    if activation == ACT_SWISH:
        return z / (1.0 + np.exp(-z))
    if activation == ACT_LEAKY_RELU:
        return np.where(z > 0, z, al * z)
    if activation == ACT_EXPONENTIAL:
        return np.exp(z)
    if activation == ACT_HARD_SIGMOID:
        # tf-keras 2.21; Keras 3 uses relu6(z + 3) / 6.
        return np.clip(0.2 * z + 0.5, 0.0, 1.0)
    raise KindError(f"activation must be one of ACT_* (0-{N_ACTIVATIONS - 1}); got {activation}")


def activation_backward(z, a, da, activation: int, alpha=None) -> np.ndarray:
    """dL/dz from the input z, the output a = act(z) and dL/da."""
    z = np.asarray(z, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    da = np.asarray(da, dtype=np.float64)
    al = _alpha(activation, alpha)
    if activation == ACT_LINEAR:
        return da
    if activation == ACT_RELU:
        return da * (a > 0)
    if activation == ACT_SIGMOID:
        return da * a * (1.0 - a)
    if activation == ACT_TANH:
        return da * (1.0 - a * a)
    if activation == ACT_SOFTMAX:
        return a * (da - (da * a).sum(axis=-1, keepdims=True))
    if activation == ACT_ELU:
        return da * np.where(z > 0, 1.0, al * np.exp(np.minimum(z, 0.0)))
    if activation == ACT_SELU:
        return da * SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))
    if activation == ACT_GELU:
        cdf = 0.5 * (1.0 + erf(z / np.sqrt(2.0)))
        return da * (cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi))
    if activation == ACT_SOFTPLUS:
        return da / (1.0 + np.exp(-z))
    if activation == ACT_SOFTSIGN:
        return da / (1.0 + np.abs(z)) ** 2
    if activation == ACT_SWISH:
        s = 1.0 / (1.0 + np.exp(-z))
        return da * (s + z * s * (1.0 - s))
    if activation == ACT_LEAKY_RELU:
        return da * np.where(z > 0, 1.0, al)
    if activation == ACT_EXPONENTIAL:
        return da * np.exp(z)
    if activation == ACT_HARD_SIGMOID:
        v = 0.2 * z + 0.5
        return da * np.where((v > 0) & (v < 1), 0.2, 0.0)
    raise KindError(f"activation must be one of ACT_* (0-{N_ACTIVATIONS - 1}); got {activation}")


# --------------------------------------------------------------------------
# Dense layer


def dense_forward(x, kernel, bias, activation, out, alpha=None):
    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    out[...] = activation_forward(z, activation, alpha)
    return out


def dense_backward(x, kernel, a, da, activation, dkernel, dbias, dx, z=None, alpha=None):
    if z is None:
        z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)  # only read by gelu/swish
    dz = activation_backward(z, a, da, activation, alpha)
    dkernel[...] = np.asarray(x, np.float64).T @ dz
    if dbias is not None:
        dbias[...] = dz.sum(axis=0)
    if dx is not None:
        dx[...] = dz @ np.asarray(kernel, np.float64).T


# --------------------------------------------------------------------------
# Dropout mask: the counter-based hash of csrc/hf_dropout.c (see its header), vectorised.

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    """SplitMix64's finaliser over uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_key(seed: int, iteration: int, node: int) -> np.ndarray:
    k = _mix64(np.array([(seed + _GOLDEN) & _M64], np.uint64))
    k = _mix64(k ^ np.uint64(((iteration & _M64) * _GOLDEN + 1) & _M64))
    return _mix64(k ^ np.uint64((node * 0xD1B54A32D192ED03 + 2) & _M64))


def dropout_mask(seed, iteration, node, rows, width, rate, shared_row=False, row0=0):
    """The mask of rows [row0, row0 + rows) of a step's stream (row0: a
    data-parallel share's first row in the global batch; a shared row is
    always the global row 0)."""
    from hookfit._graph import Graph

    spec = {"kind": NODE_DROPOUT, "inputs": [0], "rate": rate, "seed": seed,
            "noise_shape_rows": bool(shared_row)}
    nd = Graph(int(width), [{"kind": NODE_INPUT, "offset": 0, "width": int(width)}, spec], 1).nodes[1]
    rows, width = int(rows), int(width)
    if not 1 <= rows <= 2**31 - 1:
        raise ShapeError(f"rows must be in [1, {2**31 - 1}]; got {rows}")
    key = dropout_key(nd["seed"], int(iteration), int(node))
    r = np.arange(1 if shared_row else rows, dtype=np.uint64)[:, None]
    if not shared_row:
        r = r + np.uint64(row0)
    rk = _mix64(key + (r + np.uint64(1)) * np.uint64(_GOLDEN))
    h = (rk & np.uint64(0xFFFFFFFF)).astype(np.uint32) ^ (rk >> np.uint64(32)).astype(np.uint32)
    h = h + np.arange(width, dtype=np.uint32)[None, :] * np.uint32(0x9E3779B9)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    keep = (h >> np.uint32(8)) >= np.uint32(nd["drop_threshold"])
    mask = np.where(keep, nd["drop_scale"], f32(0.0)).astype(np.float32)
    return np.broadcast_to(mask, (rows, width)).copy()
