# Included by _core.pyx: optimizer settings and the single loss/metric/optimizer kernels.

cdef int _fill_opt(hf_opt *opt, int kind, rho, momentum, epsilon, centered, nesterov, beta_1,
                   beta_2, amsgrad) except -1:
    values = {"rho": rho, "momentum": momentum, "epsilon": epsilon, "beta_1": beta_1,
              "beta_2": beta_2}
    for name, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise DtypeError(f"{name} must be a float; got {v!r}") from None
        if not isfinite(<float>f):
            raise NonFiniteError(f"{name} must be a finite float32 number; got {v!r}")
    if not 0.0 <= float(momentum) <= 1.0:
        raise KindError(f"momentum must be in [0, 1]; got {momentum!r}")
    if float(epsilon) < 0.0:
        raise KindError(f"epsilon must be >= 0; got {epsilon!r}")
    opt.kind = kind
    opt.rho = <float>float(rho)
    opt.momentum = <float>float(momentum)
    opt.epsilon = <float>float(epsilon)
    opt.centered = 1 if centered else 0
    opt.nesterov = 1 if nesterov else 0
    opt.beta_1 = <float>float(beta_1)
    opt.beta_2 = <float>float(beta_2)
    opt.amsgrad = 1 if amsgrad else 0
    return 0


cdef int _check_labels_array(object y, Py_ssize_t k) except -1:
    if y.size and not (float(y.min()) >= 0.0 and float(y.max()) < k):
        bad = float(y.min()) if float(y.min()) < 0.0 else float(y.max())
        raise LabelError(f"y_true holds sparse class labels, which must lie in [0, {k}); got {bad:g}")
    return 0


cdef tuple _pair(object y_true, object y_pred, size_t y_width, str what):
    y_pred = _as_float32(y_pred, "y_pred", 2)
    y_true = _as_float32(y_true, "y_true", 2)
    n, k = y_pred.shape
    if n == 0 or k == 0:
        raise ShapeError(f"y_pred must have at least one row and column; got {y_pred.shape}")
    if y_true.shape != (n, y_width):
        raise ShapeError(f"y_true must have shape {(n, y_width)} for this {what}; got {y_true.shape}")
    return y_true, y_pred


def loss_value_and_grad(int loss, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with Keras's reduction; writes dL/dy_pred into grad_out."""
    if not hf_loss_valid(loss):
        raise KindError(f"loss must be one of LOSS_* (0-4); got {loss}")
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    y_true, y_pred = _pair(y_true, y_pred, hf_loss_y_width(loss, k0), "loss")
    n, k = y_pred.shape
    if loss == LOSS_SCCE:
        _check_labels_array(y_true, k)
    if sample_weight is not None:
        sample_weight = _as_float32(sample_weight, "sample_weight", 1)
        if sample_weight.shape[0] != n:
            raise ShapeError(f"sample_weight must have shape ({n},); got {sample_weight.shape}")
    if grad_out is not None:
        _check_out(grad_out, "grad_out", (n, k))
    cdef hf_rows yr = hf_rows_plain(_fptr(y_true), <size_t>y_true.shape[1])
    cdef hf_rows swr
    cdef hf_rows *swp = NULL
    if sample_weight is not None:
        swr = hf_rows_plain(_fptr(sample_weight), 1)
        swp = &swr
    cdef float *g = _fptr(grad_out) if grad_out is not None else NULL
    cdef double value = 0.0
    cdef float *pp = _fptr(y_pred)
    cdef size_t nn = <size_t>n, kk = <size_t>k
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_loss(loss, &yr, swp, pp, nn, kk, g, &value)
        hf_fpenv_leave(env)
    _ok(st, "loss_value_and_grad")
    return value


def metric_update(int metric, y_true, y_pred, state):
    """Adds this batch to state = float32 [total, count]."""
    if not hf_metric_valid(metric):
        raise KindError(f"metric must be one of METRIC_* (0-7); got {metric}")
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    y_true, y_pred = _pair(y_true, y_pred, hf_metric_y_width(metric, k0), "metric")
    n, k = y_pred.shape
    if metric == METRIC_SCCE:
        _check_labels_array(y_true, k)
    _check_out(state, "state", (2,))
    cdef hf_rows yr = hf_rows_plain(_fptr(y_true), <size_t>y_true.shape[1])
    cdef float *pp = _fptr(y_pred)
    cdef float *sp = _fptr(state)
    cdef size_t nn = <size_t>n, kk = <size_t>k
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_metric_update(metric, &yr, pp, nn, kk, sp)
        hf_fpenv_leave(env)
    _ok(st, "metric_update")


def optimizer_update(int optimizer, params, grads, slots, lr, iteration, *, rho=0.9,
                     momentum=0.0, epsilon=1e-7, centered=False, nesterov=False, beta_1=0.9,
                     beta_2=0.999, amsgrad=False):
    """One in-place update of params from grads (see _core.pyi)."""
    if not hf_opt_valid(optimizer):
        raise KindError(f"optimizer must be one of OPT_* (0-2); got {optimizer}")
    if not isinstance(params, np.ndarray) or params.ndim != 1:
        raise ShapeError("params must be a 1-D float32 numpy array")
    n = params.shape[0]
    _check_out(params, "params", (n,))
    grads = _as_float32(grads, "grads", 1)
    if grads.shape[0] != n:
        raise ShapeError(f"grads must have shape ({n},); got {grads.shape}")
    slots = list(slots)
    if len(slots) != _N_SLOTS[optimizer]:
        raise ShapeError(
            f"slots must hold {_N_SLOTS[optimizer]} array(s) for this optimizer (unused ones too); "
            f"got {len(slots)}"
        )
    for i, s in enumerate(slots):
        _check_out(s, f"slots[{i}]", (n,))
    while len(slots) < 3:  # SGD: the C code never touches s1, s2
        slots.append(slots[0])
    lr = float(lr)
    if not isfinite(<float>lr):
        raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
    iteration = int(iteration)
    if iteration < 0:
        raise PositionError(f"iteration must be >= 0; got {iteration}")
    cdef hf_opt opt
    _fill_opt(&opt, optimizer, rho, momentum, epsilon, centered, nesterov, beta_1, beta_2, amsgrad)
    cdef hf_status st
    cdef hf_fpenv env
    cdef float lrf = <float>lr
    cdef int64_t it = iteration
    cdef float *pp = _fptr(params)
    cdef float *gp = _fptr(grads)
    cdef float *s0 = _fptr(slots[0])
    cdef float *s1 = _fptr(slots[1])
    cdef float *s2 = _fptr(slots[2])
    cdef size_t nn = <size_t>n
    with nogil:
        env = hf_fpenv_enter()
        st = hf_optimizer_update(&opt, pp, gp, s0, s1, s2, nn, lrf, it)
        hf_fpenv_leave(env)
    _ok(st, "optimizer_update")
