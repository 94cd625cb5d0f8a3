# Included by _core.pyx: single kernels (tests and benchmarks call them).

# ---------------------------------------------------------------- single kernels

cdef float _alpha_of(int activation, object alpha) except? -1:
    if not hf_act_valid(activation):
        raise KindError(f"activation must be one of ACT_* (0-{HF_ACT_COUNT - 1}); got {activation}")
    if alpha is None:
        return hf_act_default_alpha(activation)
    cdef float a = <float>float(alpha)
    if not isfinite(a) or (activation == HF_ACT_LEAKY_RELU and a < 0.0):
        raise KindError(f"alpha must be a finite number (>= 0 for leaky_relu); got {alpha!r}")
    return a


def activation_forward(z, int activation, alpha=None):
    """act(z) of a 2-D array, a new float32 array (softmax along rows)."""
    cdef float al = _alpha_of(activation, alpha)
    z = np.array(_as_float32(z, "z", 2), dtype=np.float32, copy=True)
    out = np.empty_like(z)
    cdef size_t n = z.shape[0], k = z.shape[1]
    if n == 0 or k == 0:
        raise ShapeError(f"z must have at least one row and one column; got shape {z.shape}")
    cdef float *zp = _fptr(z)
    cdef float *op = _fptr(out)
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        hf_act_forward(activation, al, zp, op, n, k, NULL)
        hf_fpenv_leave(env)
    return out


def activation_backward(z, a, da, int activation, alpha=None):
    """dL/dz from z, the output a = act(z) and dL/da (2-D arrays of one shape)."""
    cdef float al = _alpha_of(activation, alpha)
    z = _as_float32(z, "z", 2)
    a = _as_float32(a, "a", 2)
    da = _as_float32(da, "da", 2)
    if a.shape != z.shape or da.shape != z.shape or z.size == 0:
        raise ShapeError(f"z, a and da must share one non-empty shape; got {z.shape}, {a.shape}, {da.shape}")
    dz = np.empty_like(da)
    cdef size_t n = z.shape[0], k = z.shape[1]
    cdef float *zp = _fptr(z)
    cdef float *ap = _fptr(a)
    cdef float *dap = _fptr(da)
    cdef float *dzp = _fptr(dz)
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        hf_act_backward(activation, al, zp, ap, dap, dzp, n, k)
        hf_fpenv_leave(env)
    return dz


def dropout_mask(seed, iteration, node, rows, width, rate, shared_row=False):
    """The (rows, width) float32 mask node `node` of a network draws in step
    `iteration`: 1 / (1 - rate) where kept, 0 where dropped."""
    from hookfit import _graph
    spec = {"kind": NODE_DROPOUT, "inputs": [0], "rate": rate, "seed": seed,
            "noise_shape_rows": bool(shared_row)}
    graph = _graph.Graph(int(width), [{"kind": NODE_INPUT, "offset": 0, "width": int(width)}, spec], 1)
    nd = graph.nodes[1]
    cdef int64_t it = int(iteration)
    cdef size_t nodei = int(node), n = int(rows), k = int(width)
    if n < 1 or n > <size_t>_BLAS_INT_MAX:
        raise ShapeError(f"rows must be in [1, {_BLAS_INT_MAX}]; got {rows}")
    out = np.empty((n, k), dtype=np.float32)
    cdef float *op = _fptr(out)
    cdef uint64_t s = <uint64_t>nd["seed"]
    cdef uint32_t t = <uint32_t>nd["drop_threshold"]
    cdef float scale = nd["drop_scale"]
    cdef int shared = nd["shared_row"]
    with nogil:
        hf_dropout_apply(hf_dropout_key(s, it, nodei), t, scale, shared, NULL, 0, op, NULL, n, k)
    return out


def dense_forward(x, kernel, bias, int activation, out, alpha=None):
    """out = act(x · kernel + bias); returns out."""
    cdef float al = _alpha_of(activation, alpha)
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
    _check_out(out, "out", (n, dout))
    z = np.empty((n, dout), dtype=np.float32) if hf_act_needs_z(activation) else None
    cdef const float *b = _fptr(bias) if bias is not None else NULL
    cdef float *zp = _fptr(z) if z is not None else NULL
    cdef float *xp = _fptr(x)
    cdef float *wp = _fptr(kernel)
    cdef float *op = _fptr(out)
    cdef size_t cn = n, cdin = din, cdout = dout
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_dense_forward(&_BLAS, xp, cdin, wp, b, activation, al, zp, op, cn, cdin, cdout)
        hf_fpenv_leave(env)
    _ok(st, "dense_forward")
    return out


def dense_backward(x, kernel, a, da, int activation, dkernel, dbias, dx, z=None, alpha=None):
    """Write dL/dW, dL/db and dL/dx from the layer input x, output a and dL/da
    (and the pre-activation z, needed by gelu and swish)."""
    cdef float al = _alpha_of(activation, alpha)
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
    if z is not None:
        z = _as_float32(z, "z", 2)
        if z.shape != (n, dout):
            raise ShapeError(f"z must have shape {(n, dout)}; got {z.shape}")
    elif hf_act_needs_z(activation):
        raise ShapeError("this activation's derivative needs z (the pre-activation); pass z=")
    _check_out(dkernel, "dkernel", (din, dout))
    if dbias is not None:
        _check_out(dbias, "dbias", (dout,))
    if dx is not None:
        _check_out(dx, "dx", (n, din))
    dz = np.empty((n, dout), dtype=np.float32)
    cdef float *dbp = _fptr(dbias) if dbias is not None else NULL
    cdef float *dxp = _fptr(dx) if dx is not None else NULL
    cdef float *zp = _fptr(z) if z is not None else NULL
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
        st = hf_dense_backward(&_BLAS, xp, cdin, wp, zp, ap, dap, dzp, activation, al, dwp, dbp,
                               dxp, 0, cn, cdin, cdout)
        hf_fpenv_leave(env)
    _ok(st, "dense_backward")
