"""The benchmarks' measuring sticks in the core: a plain read of rows and the
core's own product (through its BLAS and its blocks)."""

import numpy as np
import pytest

from hookfit import _core as core


def test_read_floats_reads_every_float_once():
    x = np.random.default_rng(0).random((1000, 784), dtype=np.float32)
    assert core._read_floats(x) == pytest.approx(float(x.astype(np.float64).sum()), rel=1e-5)
    assert core._read_floats(np.ones(7, np.float32)) == 7.0  # a tail shorter than the vectors
    with pytest.raises(TypeError, match="C-contiguous float32"):
        core._read_floats(x[:, ::2])


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_gemm_is_the_product_for_every_layout(trans_a, trans_b):
    rng = np.random.default_rng(1)
    m, n, k = 130, 257, 300  # cut into blocks on the pool
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    core._gemm(a, b, out, trans_a=trans_a, trans_b=trans_b)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)


def test_gemm_refuses_shapes_that_do_not_fit():
    a, b = np.ones((3, 4), np.float32), np.ones((5, 6), np.float32)
    with pytest.raises(ValueError, match="cannot multiply"):
        core._gemm(a, b, np.empty((3, 6), np.float32))
