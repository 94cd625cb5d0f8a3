# Included by _core.pyx: loss/metric/optimizer specs (NUMERICS_SPEC.md) and the
# single loss/metric/optimizer kernels.
#
# Spec dicts come from hookfit.losses / hookfit.metrics / hookfit.optimizers:
#   loss:      {"kind": LOSS_*, "from_logits", "label_smoothing", "delta", "reduction"}
#   metric:    {"kind": METRIC_*, "name", "weighted", "from_logits", "label_smoothing",
#               "threshold", "top_k", "class_id", "thresholds", "curve", "summation", "target"}
#   optimizer: {"kind": OPT_*, <hyper-parameters by Keras name>, "clipnorm", "clipvalue",
#               "global_clipnorm", "weight_decay", "use_ema", "ema_momentum",
#               "ema_overwrite_frequency"}
# Missing keys take Keras's defaults; unknown keys are refused (a setting must
# never be silently ignored).

_REDUCTIONS = {"sum_over_batch_size": HF_REDUCE_SUM_OVER_BATCH_SIZE, "auto": HF_REDUCE_SUM_OVER_BATCH_SIZE,
               "sum": HF_REDUCE_SUM}
_LOSS_KEYS = frozenset({"kind", "name", "from_logits", "label_smoothing", "delta", "reduction"})
_METRIC_KEYS = frozenset({"kind", "name", "weighted", "from_logits", "label_smoothing",
                          "threshold", "top_k", "class_id", "thresholds", "curve", "summation",
                          "target", "loss_kind", "delta", "aggregation", "num_regressors"})
_OPT_FLOATS = ("beta_1", "beta_2", "epsilon", "rho", "momentum", "ema_momentum",
               "initial_accumulator_value", "learning_rate_power", "l1_regularization_strength",
               "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta")
_OPT_CLIPS = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay")
_OPT_FLAGS = ("centered", "nesterov", "amsgrad", "use_ema")
_OPT_KEYS = frozenset(("kind", "name", "ema_overwrite_frequency") + _OPT_FLOATS + _OPT_CLIPS
                      + _OPT_FLAGS)


cdef int _check_keys(dict spec, frozenset known, str what) except -1:
    unknown = set(spec) - known
    if unknown:
        raise KindError(f"{what} spec has unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    return 0


cdef int _spec_kind(dict spec, int n_kinds, str what) except -1:
    kind = spec.get("kind")
    if isinstance(kind, bool) or not isinstance(kind, (int, np.integer)) or not 0 <= kind < n_kinds:
        raise KindError(f"{what} spec needs 'kind', one of the core's codes 0-{n_kinds - 1}; got {kind!r}")
    return <int>kind


cdef float _spec_float(dict spec, str key, float default, str what) except? -1:
    v = spec.get(key)
    if v is None:
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise DtypeError(f"{what} setting {key} must be a number; got {v!r}") from None
    if not isfinite(<float>f):
        raise NonFiniteError(f"{what} setting {key} must be a finite float32 number; got {v!r}")
    return <float>f


cdef int _fill_loss_spec(hf_loss_spec *out, dict spec) except -1:
    """Fill *out from a loss spec dict; raise (changing nothing) when it is not valid."""
    _check_keys(spec, _LOSS_KEYS, "loss")
    cdef hf_loss_spec s = hf_loss_spec_of(_spec_kind(spec, HF_LOSS_N_KINDS, "loss"))
    s.from_logits = 1 if spec.get("from_logits") else 0
    s.label_smoothing = _spec_float(spec, "label_smoothing", 0.0, "loss")
    s.delta = _spec_float(spec, "delta", 1.0, "loss")
    red = spec.get("reduction", HF_REDUCE_SUM_OVER_BATCH_SIZE)
    if isinstance(red, str):
        if red not in _REDUCTIONS:
            raise KindError(
                f"loss reduction {red!r} cannot be a training loss's; use 'sum_over_batch_size' or 'sum'"
            )
        red = _REDUCTIONS[red]
    if red not in (HF_REDUCE_SUM_OVER_BATCH_SIZE, HF_REDUCE_SUM):
        raise KindError(f"loss reduction must be 'sum_over_batch_size' or 'sum'; got {red!r}")
    s.reduction = <int>red
    if not 0.0 <= s.label_smoothing <= 1.0:
        raise KindError(f"label_smoothing must be in [0, 1]; got {spec.get('label_smoothing')!r}")
    if not s.delta > 0.0:
        raise KindError(f"delta must be > 0; got {spec.get('delta')!r}")
    if hf_loss_spec_check(&s) != HF_OK:
        raise KindError(f"loss spec {spec!r} is not valid")
    out[0] = s
    return 0


cdef int _fill_metric_spec(hf_metric_spec *out, dict spec, object keepalive_list) except -1:
    """Fill *out from a metric spec dict. Arrays the spec points into (the
    thresholds) are appended to keepalive_list, which the caller keeps alive
    as long as *out is used."""
    _check_keys(spec, _METRIC_KEYS, "metric")
    cdef hf_metric_spec m = hf_metric_spec_of(_spec_kind(spec, HF_METRIC_N_KINDS, "metric"))
    m.weighted = 1 if spec.get("weighted") else 0
    m.from_logits = 1 if spec.get("from_logits") else 0
    m.label_smoothing = _spec_float(spec, "label_smoothing", 0.0, "metric")
    m.threshold = _spec_float(spec, "threshold", 0.5, "metric")
    m.target = _spec_float(spec, "target", 0.0, "metric")
    m.top_k = <int>int(spec.get("top_k") if spec.get("top_k") is not None else
                        (5 if m.kind in (HF_METRIC_TOP_K_CATEGORICAL_ACCURACY,
                                         HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY) else 0))
    cid = spec.get("class_id")
    m.class_id = -1 if cid is None else <int>int(cid)
    m.curve = <int>int(spec.get("curve", 0))
    m.summation = <int>int(spec.get("summation", 0))
    m.loss_kind = <int>int(spec.get("loss_kind", 0))
    m.delta = _spec_float(spec, "delta", 1.0, "metric")
    m.aggregation = <int>int(spec.get("aggregation", 0))
    m.num_regressors = <int>int(spec.get("num_regressors", 0))
    if m.top_k < 0 or m.class_id < -1:
        raise KindError(f"metric top_k must be >= 0 and class_id >= 0 or None; got {spec!r}")
    thresholds = spec.get("thresholds")
    if thresholds is not None:
        arr = np.ascontiguousarray(thresholds, dtype=np.float32).reshape(-1)
        if not np.isfinite(arr).all():
            raise NonFiniteError("metric thresholds must be finite numbers")
        keepalive_list.append(arr)
        m.n_thresholds = <size_t>arr.shape[0]
        m.thresholds = <const float *>cnp.PyArray_DATA(<cnp.ndarray>arr) if arr.shape[0] else NULL
    if not 0.0 <= m.label_smoothing <= 1.0:
        raise KindError(f"label_smoothing must be in [0, 1]; got {spec.get('label_smoothing')!r}")
    out[0] = m
    return 0


cdef int _fill_opt_spec(hf_opt_spec *out, dict spec) except -1:
    """Fill *out from an optimizer spec dict (Keras's names and defaults)."""
    _check_keys(spec, _OPT_KEYS, "optimizer")
    cdef hf_opt_spec o = hf_opt_spec_of(_spec_kind(spec, HF_OPT_N_KINDS, "optimizer"))
    o.beta_1 = _spec_float(spec, "beta_1", o.beta_1, "optimizer")
    o.beta_2 = _spec_float(spec, "beta_2", o.beta_2, "optimizer")
    o.epsilon = _spec_float(spec, "epsilon", o.epsilon, "optimizer")
    o.rho = _spec_float(spec, "rho", o.rho, "optimizer")
    o.momentum = _spec_float(spec, "momentum", o.momentum, "optimizer")
    o.ema_momentum = _spec_float(spec, "ema_momentum", o.ema_momentum, "optimizer")
    o.initial_accumulator_value = _spec_float(spec, "initial_accumulator_value",
                                              o.initial_accumulator_value, "optimizer")
    o.learning_rate_power = _spec_float(spec, "learning_rate_power", o.learning_rate_power, "optimizer")
    o.l1 = _spec_float(spec, "l1_regularization_strength", 0.0, "optimizer")
    o.l2 = _spec_float(spec, "l2_regularization_strength", 0.0, "optimizer")
    o.l2_shrinkage = _spec_float(spec, "l2_shrinkage_regularization_strength", 0.0, "optimizer")
    o.beta = _spec_float(spec, "beta", 0.0, "optimizer")
    o.clipnorm = _spec_float(spec, "clipnorm", 0.0, "optimizer")
    o.clipvalue = _spec_float(spec, "clipvalue", 0.0, "optimizer")
    o.global_clipnorm = _spec_float(spec, "global_clipnorm", 0.0, "optimizer")
    o.weight_decay = _spec_float(spec, "weight_decay", 0.0, "optimizer")
    o.centered = 1 if spec.get("centered") else 0
    o.nesterov = 1 if spec.get("nesterov") else 0
    o.amsgrad = 1 if spec.get("amsgrad") else 0
    o.use_ema = 1 if spec.get("use_ema") else 0
    freq = spec.get("ema_overwrite_frequency")
    o.ema_overwrite_frequency = 0 if not freq else <int>int(freq)
    if not 0.0 <= o.momentum <= 1.0:
        raise KindError(f"momentum must be in [0, 1]; got {spec.get('momentum')!r}")
    if o.epsilon < 0.0:
        raise KindError(f"epsilon must be >= 0; got {spec.get('epsilon')!r}")
    if not 0.0 <= o.ema_momentum <= 1.0:
        raise KindError(f"ema_momentum must be in [0, 1]; got {spec.get('ema_momentum')!r}")
    if o.ema_overwrite_frequency < 0:
        raise KindError(f"ema_overwrite_frequency must be None or >= 1; got {freq!r}")
    if hf_opt_spec_check(&o) != HF_OK:
        raise KindError(f"optimizer spec {spec!r} is not valid")
    out[0] = o
    return 0


def loss_spec_full(dict spec):
    """The loss spec as the core reads it: checked, every setting present
    (the core's defaults filled). The NumPy twin reads its specs through
    this, so the defaults and checks live in one place."""
    cdef hf_loss_spec s
    _fill_loss_spec(&s, spec)
    return {"kind": s.kind, "from_logits": bool(s.from_logits), "label_smoothing": s.label_smoothing,
            "delta": s.delta, "reduction": s.reduction}


def metric_spec_full(dict spec):
    """The metric spec as the core reads it (see loss_spec_full); class_id
    None when it is not set, thresholds None when the kind has none."""
    cdef hf_metric_spec m
    keep = []
    _fill_metric_spec(&m, spec, keep)
    cdef size_t i
    thresholds = None
    if m.thresholds != NULL:
        thresholds = [m.thresholds[i] for i in range(m.n_thresholds)]
    return {"kind": m.kind, "weighted": bool(m.weighted), "from_logits": bool(m.from_logits),
            "label_smoothing": m.label_smoothing, "threshold": m.threshold, "top_k": m.top_k,
            "class_id": None if m.class_id < 0 else m.class_id, "thresholds": thresholds,
            "curve": m.curve, "summation": m.summation, "target": m.target, "loss_kind": m.loss_kind,
            "delta": m.delta, "aggregation": m.aggregation, "num_regressors": m.num_regressors}


def metric_state_floats(dict spec, Py_ssize_t k):
    """Floats of state the metric keeps for outputs of width k."""
    cdef hf_metric_spec m
    _fill_metric_spec(&m, spec, [])
    if k < 1 or hf_metric_spec_check(&m, <size_t>k) != HF_OK:
        raise KindError(f"metric spec {spec!r} does not fit outputs of width {k}")
    return <Py_ssize_t>hf_metric_state_floats(&m, <size_t>k)


def opt_n_slots(dict spec):
    """Slot buffers (n_params floats each) the optimizer keeps."""
    cdef hf_opt_spec o
    _fill_opt_spec(&o, spec)
    return <Py_ssize_t>hf_opt_n_slots(&o)


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


cdef object _weights(object sample_weight, Py_ssize_t n):
    if sample_weight is None:
        return None
    sample_weight = _as_float32(sample_weight, "sample_weight", 1)
    if sample_weight.shape[0] != n:
        raise ShapeError(f"sample_weight must have shape ({n},); got {sample_weight.shape}")
    return sample_weight


def loss_eval(dict spec, y_true, y_pred, sample_weight, grad_out):
    """Batch loss with the spec's reduction; writes dL/dy_pred into grad_out
    (or skips the gradient when grad_out is None)."""
    cdef hf_loss_spec s
    _fill_loss_spec(&s, spec)
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    y_true, y_pred = _pair(y_true, y_pred, hf_loss_spec_y_width(&s, k0), "loss")
    n, k = y_pred.shape
    if s.kind == HF_LOSS_SCCE:
        _check_labels_array(y_true, k)
    sample_weight = _weights(sample_weight, n)
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
        st = hf_loss_eval(&s, &yr, swp, pp, nn, kk, g, &value)
        hf_fpenv_leave(env)
    _ok(st, "loss_eval")
    return value


def loss_per_sample(dict spec, y_true, y_pred):
    """The per-sample values l_i (float32, shape (n,)): Keras's reduction 'none'."""
    cdef hf_loss_spec s
    _fill_loss_spec(&s, spec)
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    y_true, y_pred = _pair(y_true, y_pred, hf_loss_spec_y_width(&s, k0), "loss")
    n, k = y_pred.shape
    if s.kind == HF_LOSS_SCCE:
        _check_labels_array(y_true, k)
    out = np.empty(n, dtype=np.float32)
    cdef hf_rows yr = hf_rows_plain(_fptr(y_true), <size_t>y_true.shape[1])
    cdef float *pp = _fptr(y_pred)
    cdef float *op = _fptr(out)
    cdef size_t nn = <size_t>n, kk = <size_t>k
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_loss_per_sample(&s, &yr, pp, nn, kk, op)
        hf_fpenv_leave(env)
    _ok(st, "loss_per_sample")
    return out


def loss_value_and_grad(int loss, y_true, y_pred, sample_weight, grad_out):
    """Batch loss of the kind with Keras's defaults (see loss_eval)."""
    if not hf_loss_valid(loss):
        raise KindError(f"loss must be one of LOSS_* (0-{HF_LOSS_N_KINDS - 1}); got {loss}")
    return loss_eval({"kind": loss}, y_true, y_pred, sample_weight, grad_out)


def metric_accumulate(dict spec, y_true, y_pred, sample_weight, state):
    """Adds this batch to the metric's float32 state block (metric_state_floats long)."""
    cdef hf_metric_spec m
    keep = []
    _fill_metric_spec(&m, spec, keep)
    k0 = np.shape(y_pred)[1] if np.ndim(y_pred) == 2 else 0
    y_true, y_pred = _pair(y_true, y_pred, hf_metric_spec_y_width(&m, k0), "metric")
    n, k = y_pred.shape
    if hf_metric_spec_check(&m, <size_t>k) != HF_OK:
        raise KindError(f"metric spec {spec!r} does not fit outputs of width {k}")
    if m.kind == HF_METRIC_SCCE:
        _check_labels_array(y_true, k)
    sample_weight = _weights(sample_weight, n)
    _check_out(state, "state", (<Py_ssize_t>hf_metric_state_floats(&m, <size_t>k),))
    cdef hf_rows yr = hf_rows_plain(_fptr(y_true), <size_t>y_true.shape[1])
    cdef hf_rows swr
    cdef hf_rows *swp = NULL
    if sample_weight is not None:
        swr = hf_rows_plain(_fptr(sample_weight), 1)
        swp = &swr
    cdef float *pp = _fptr(y_pred)
    cdef float *sp = _fptr(state)
    cdef size_t nn = <size_t>n, kk = <size_t>k
    cdef hf_status st
    cdef hf_fpenv env
    with nogil:
        env = hf_fpenv_enter()
        st = hf_metric_accumulate(&m, &yr, swp, pp, nn, kk, sp)
        hf_fpenv_leave(env)
    _ok(st, "metric_accumulate")


def metric_result(dict spec, state, Py_ssize_t k):
    """The metric's value from its state block, as a Python float."""
    cdef hf_metric_spec m
    keep = []
    _fill_metric_spec(&m, spec, keep)
    if k < 1 or hf_metric_spec_check(&m, <size_t>k) != HF_OK:
        raise KindError(f"metric spec {spec!r} does not fit outputs of width {k}")
    state = _as_float32(state, "state", 1)
    need = <Py_ssize_t>hf_metric_state_floats(&m, <size_t>k)
    if state.shape[0] != need:
        raise ShapeError(f"state must have shape ({need},); got {state.shape}")
    return hf_metric_result(&m, _fptr(state), <size_t>k)


def metric_update(int metric, y_true, y_pred, state):
    """Adds this batch to state = float32 [total, count] (the kind's defaults)."""
    if not hf_metric_valid(metric):
        raise KindError(f"metric must be one of METRIC_* (0-{HF_METRIC_N_KINDS - 1}); got {metric}")
    metric_accumulate({"kind": metric}, y_true, y_pred, None, state)


def opt_apply(dict spec, params, grads, slots, lr, iteration, vars=None):
    """One in-place update of params from grads (clipped in place) over the
    vars, a list of (offset, size) ranges (None: the whole buffer)."""
    cdef hf_opt_spec o
    _fill_opt_spec(&o, spec)
    if not isinstance(params, np.ndarray) or params.ndim != 1:
        raise ShapeError("params must be a 1-D float32 numpy array")
    n = params.shape[0]
    _check_out(params, "params", (n,))
    _check_out(grads, "grads", (n,))
    slots = list(slots)
    n_slots = <Py_ssize_t>hf_opt_n_slots(&o)
    if len(slots) != n_slots:
        raise ShapeError(
            f"slots must hold {n_slots} array(s) for this optimizer (unused ones too); got {len(slots)}"
        )
    for j, slot in enumerate(slots):
        _check_out(slot, f"slots[{j}]", (n,))
    ranges = [(0, n)] if vars is None else [(int(a), int(b)) for a, b in vars]
    for a, b in ranges:
        if a < 0 or b < 0 or a + b > n:
            raise PositionError(f"vars must be (offset, size) ranges inside [0, {n}); got ({a}, {b})")
    var_arr = np.array(ranges, dtype=np.uintp).reshape(-1, 2)
    lr = float(lr)
    if not isfinite(<float>lr):
        raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
    iteration = int(iteration)
    if not 0 <= iteration <= INT64_MAX:
        raise PositionError(f"iteration must be in [0, 2**63 - 1]; got {iteration}")
    cdef float *sp[HF_OPT_MAX_SLOTS]
    cdef Py_ssize_t i
    for i in range(n_slots):
        sp[i] = _fptr(slots[i])
    cdef hf_status st
    cdef hf_fpenv env
    cdef float lrf = <float>lr
    cdef int64_t it = iteration
    cdef float *pp = _fptr(params)
    cdef float *gp = _fptr(grads)
    cdef const hf_var *vp = <const hf_var *>cnp.PyArray_DATA(<cnp.ndarray>var_arr)
    cdef size_t nv = <size_t>var_arr.shape[0], nn = <size_t>n
    with nogil:
        env = hf_fpenv_enter()
        st = hf_opt_apply(&o, pp, gp, sp, nn, vp, nv, lrf, it)
        hf_fpenv_leave(env)
    _ok(st, "opt_apply")


def optimizer_update(int optimizer, params, grads, slots, lr, iteration, *, rho=0.9,
                     momentum=0.0, epsilon=1e-7, centered=False, nesterov=False, beta_1=0.9,
                     beta_2=0.999, amsgrad=False):
    """One in-place update of params from grads with the kind's settings (see opt_apply)."""
    if not hf_opt_valid(optimizer):
        raise KindError(f"optimizer must be one of OPT_* (0-{HF_OPT_N_KINDS - 1}); got {optimizer}")
    if not isinstance(params, np.ndarray) or params.ndim != 1:
        raise ShapeError("params must be a 1-D float32 numpy array")
    grads = _as_float32(grads, "grads", 1)
    if grads.shape[0] != params.shape[0]:
        raise ShapeError(f"grads must have shape ({params.shape[0]},); got {grads.shape}")
    spec = {"kind": optimizer, "rho": rho, "momentum": momentum, "epsilon": epsilon,
            "centered": centered, "nesterov": nesterov, "beta_1": beta_1, "beta_2": beta_2,
            "amsgrad": amsgrad}
    opt_apply(spec, params, np.array(grads, dtype=np.float32), slots, lr, iteration)


_OLD_HYPER = ("rho", "momentum", "epsilon", "centered", "nesterov", "beta_1", "beta_2", "amsgrad")


def _specs_from_codes(loss, metrics, optimizer, dict hyper):
    """The spec dicts of configure's older form (codes plus the optimizer's
    hyper-parameters), with its error messages."""
    loss, optimizer = int(loss), int(optimizer)
    metrics = [int(m) for m in metrics]
    if not hf_loss_valid(loss):
        raise KindError(f"loss must be one of LOSS_* (0-{HF_LOSS_N_KINDS - 1}); got {loss}")
    if not hf_opt_valid(optimizer):
        raise KindError(f"optimizer must be one of OPT_* (0-{HF_OPT_N_KINDS - 1}); got {optimizer}")
    for i, m in enumerate(metrics):
        if not hf_metric_valid(m):
            raise KindError(f"metrics[{i}] must be one of METRIC_* (0-{HF_METRIC_N_KINDS - 1}); got {m}")
    unknown = set(hyper) - set(_OLD_HYPER)
    if unknown:
        raise TypeError(f"configure() got unexpected setting(s) {sorted(unknown)}; known: {list(_OLD_HYPER)}")
    return {"kind": loss}, [{"kind": m} for m in metrics], {"kind": optimizer, **hyper}
