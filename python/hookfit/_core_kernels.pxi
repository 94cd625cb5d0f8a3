# Included by _core.pyx: the single dense-layer kernels (tests and benchmarks call them).

# ---------------------------------------------------------------- single kernels

def dense_forward(x, kernel, bias, int activation, out):
    """out = act(x · kernel + bias); returns out."""
    x = _as_float32(x, "x", 2)
    kernel = _as_float32(kernel, "kernel", 2)
    n, din = x.shape
    if kernel.shape[0] != din or n == 0 or din == 0 or kernel.shape[1] == 0:
        raise ShapeError(f"kernel must have shape ({din}, units) with units >= 1; got {kernel.shape}")
    dout = kernel.shape[1]
    if bias is not None:
        bias = _as_float32(bias, "bias", 1)
        if bias.shape[0] != dout:
            raise ShapeError(f"bias must have shape ({dout},); got {bias.shape}")
    if not hf_act_valid(activation):
        raise KindError(f"activation must be one of ACT_* (0-4); got {activation}")
    _check_out(out, "out", (n, dout))
    cdef const float *b = _fptr(bias) if bias is not None else NULL
    cdef float *xp = _fptr(x)
    cdef float *wp = _fptr(kernel)
    cdef float *op = _fptr(out)
    cdef size_t cn = n, cdin = din, cdout = dout
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_dense_forward(&_BLAS, xp, cdin, wp, b, activation, op, cn, cdin, cdout)
        hf_fpenv_leave(env)
    _ok(st, "dense_forward")
    return out


def dense_backward(x, kernel, a, da, int activation, dkernel, dbias, dx):
    """Write dL/dW, dL/db and dL/dx from the layer input x, output a and dL/da."""
    x = _as_float32(x, "x", 2)
    kernel = _as_float32(kernel, "kernel", 2)
    n, din = x.shape
    if kernel.shape[0] != din or n == 0 or din == 0 or kernel.shape[1] == 0:
        raise ShapeError(f"kernel must have shape ({din}, units) with units >= 1; got {kernel.shape}")
    dout = kernel.shape[1]
    a = _as_float32(a, "a", 2)
    if a.shape != (n, dout):
        raise ShapeError(f"a must have shape {(n, dout)}; got {a.shape}")
    da = _as_float32(da, "da", 2)
    if da.shape != (n, dout):
        raise ShapeError(f"da must have shape {(n, dout)}; got {da.shape}")
    if not hf_act_valid(activation):
        raise KindError(f"activation must be one of ACT_* (0-4); got {activation}")
    _check_out(dkernel, "dkernel", (din, dout))
    if dbias is not None:
        _check_out(dbias, "dbias", (dout,))
    if dx is not None:
        _check_out(dx, "dx", (n, din))
    dz = np.empty((n, dout), dtype=np.float32)
    cdef float *dbp = _fptr(dbias) if dbias is not None else NULL
    cdef float *dxp = _fptr(dx) if dx is not None else NULL
    cdef float *xp = _fptr(x)
    cdef float *wp = _fptr(kernel)
    cdef float *ap = _fptr(a)
    cdef float *dap = _fptr(da)
    cdef float *dzp = _fptr(dz)
    cdef float *dwp = _fptr(dkernel)
    cdef size_t cn = n, cdin = din, cdout = dout
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_dense_backward(&_BLAS, xp, cdin, wp, ap, dap, dzp, activation, dwp, dbp, dxp,
                               cn, cdin, cdout)
        hf_fpenv_leave(env)
    _ok(st, "dense_backward")
