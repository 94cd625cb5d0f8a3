"""Activations and the dense layer (csrc/hf_activation.h, hf_dense.c)."""

from __future__ import annotations

import math

import numpy as np

from hookfit._reference.codes import *  # noqa: F403
from hookfit._reference.codes import _N_SLOTS, f32  # noqa: F401


# --------------------------------------------------------------------------
# Activations


def activation_forward(z: np.ndarray, activation: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
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
    raise CoreValueError(f"unknown activation code {activation}")


def activation_backward(a: np.ndarray, da: np.ndarray, activation: int) -> np.ndarray:
    """dL/dz from the layer output a = act(z) and dL/da."""
    a = np.asarray(a, dtype=np.float64)
    da = np.asarray(da, dtype=np.float64)
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
    raise CoreValueError(f"unknown activation code {activation}")


# --------------------------------------------------------------------------
# Dense layer


def dense_forward(x, kernel, bias, activation, out):
    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    out[...] = activation_forward(z, activation)
    return out


def dense_backward(x, kernel, a, da, activation, dkernel, dbias, dx):
    dz = activation_backward(a, da, activation)
    dkernel[...] = np.asarray(x, np.float64).T @ dz
    if dbias is not None:
        dbias[...] = dz.sum(axis=0)
    if dx is not None:
        dx[...] = dz @ np.asarray(kernel, np.float64).T
