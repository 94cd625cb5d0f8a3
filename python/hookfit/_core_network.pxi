# Included by _core.pyx: the Network (parameters, workspace and the runs of batches).

# ---------------------------------------------------------------- Network

cdef class Network:
    """A Sequential stack of Dense layers with its parameters, optimizer
    slots, metric accumulators and workspace (see _core.pyi)."""

    cdef hf_network net
    cdef object _dims, _acts, _w_off, _b_off, _vars, _metric_specs, _metric_keep
    cdef object _params, _grads, _slots, _mstate, _ws
    cdef size_t _ws_floats
    cdef bint _busy, _configured, _sparse
    cdef int _loss
    cdef Py_ssize_t _last_run_batches

    def __init__(self, input_dim, units, activations, use_bias):
        self._check_idle("Network.__init__")
        units, activations, use_bias = list(units), list(activations), list(use_bias)
        n_layers = len(units)
        if n_layers == 0:
            raise ShapeError("units must name at least one layer; got an empty sequence")
        if len(activations) != n_layers or len(use_bias) != n_layers:
            raise ShapeError(
                f"units, activations and use_bias must have the same length; got "
                f"{n_layers}, {len(activations)}, {len(use_bias)}"
            )
        dims = [int(input_dim)] + [int(u) for u in units]
        for i, d in enumerate(dims):
            if not 1 <= d <= _BLAS_INT_MAX:
                what = "input_dim" if i == 0 else f"units[{i - 1}]"
                raise ShapeError(f"{what} must be an integer in [1, {_BLAS_INT_MAX}]; got {d}")
        for i, a in enumerate(activations):
            if not hf_act_valid(int(a)):
                raise KindError(f"activations[{i}] must be one of ACT_* (0-4); got {a!r}")
        w_off, b_off, total = [], [], 0
        for l in range(n_layers):
            w_off.append(total)
            total += dims[l] * dims[l + 1]
            if use_bias[l]:
                b_off.append(total)
                total += dims[l + 1]
            else:
                b_off.append(-1)
        self._dims = np.array(dims, dtype=np.uintp)
        self._acts = np.array([int(a) for a in activations], dtype=np.intc)
        self._w_off = np.array(w_off, dtype=np.uintp)
        self._b_off = np.array(b_off, dtype=np.int64)
        self._params = _aligned_zeros(total)
        self._grads = _aligned_zeros(total)
        self._slots = [_aligned_zeros(total) for _ in range(3)]
        self._metric_specs = np.zeros(sizeof(hf_metric_spec), dtype=np.uint8)
        self._metric_keep = []
        self._mstate = np.zeros(2, dtype=np.float32)
        # The trainable weight arrays (every kernel and bias) as hf_var ranges.
        ranges = []
        for l in range(n_layers):
            ranges.append((w_off[l], dims[l] * dims[l + 1]))
            if b_off[l] >= 0:
                ranges.append((b_off[l], dims[l + 1]))
        self._vars = np.array(ranges, dtype=np.uintp).reshape(-1, 2)
        self._ws = None
        self._ws_floats = 0
        self._busy = False
        self._configured = False
        self._sparse = False
        self._loss = 0

        self.net.n_layers = <size_t>n_layers
        self.net.dims = <const size_t *>cnp.PyArray_DATA(<cnp.ndarray>self._dims)
        self.net.acts = <const int *>cnp.PyArray_DATA(<cnp.ndarray>self._acts)
        self.net.w_off = <const size_t *>cnp.PyArray_DATA(<cnp.ndarray>self._w_off)
        self.net.b_off = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>self._b_off)
        self.net.n_params = <size_t>total
        self.net.params = _fptr(self._params)
        self.net.grads = _fptr(self._grads)
        self.net.slots[0] = _fptr(self._slots[0])
        self.net.slots[1] = _fptr(self._slots[1])
        self.net.slots[2] = _fptr(self._slots[2])
        self.net.opt = hf_opt_spec_of(OPT_RMSPROP)
        self.net.vars = <const hf_var *>cnp.PyArray_DATA(<cnp.ndarray>self._vars)
        self.net.n_vars = <size_t>self._vars.shape[0]
        self.net.loss = hf_loss_spec_of(LOSS_MSE)
        self.net.n_metrics = 0
        self.net.metrics = <const hf_metric_spec *>cnp.PyArray_DATA(<cnp.ndarray>self._metric_specs)
        self.net.mstate = _fptr(self._mstate)
        self.net.iterations = 0
        self.net.blas = &_BLAS

    # ---- description and parameters

    @property
    def n_layers(self):
        return <Py_ssize_t>self.net.n_layers

    @property
    def n_params(self):
        return <Py_ssize_t>self.net.n_params

    @property
    def input_dim(self):
        return <Py_ssize_t>self.net.dims[0]

    @property
    def output_dim(self):
        return <Py_ssize_t>self.net.dims[self.net.n_layers]

    @property
    def params(self):
        """The flat float32 parameter buffer (the array itself, writable)."""
        return self._params

    def layer_weights(self, i):
        """Views (kernel (in, out), bias (out,) or None) of layer i."""
        i = int(i)
        if not 0 <= i < <Py_ssize_t>self.net.n_layers:
            raise PositionError(f"layer index must be in [0, {self.net.n_layers}); got {i}")
        din, dout = int(self._dims[i]), int(self._dims[i + 1])
        w0 = int(self._w_off[i])
        kernel = self._params[w0:w0 + din * dout].reshape(din, dout)
        b0 = int(self._b_off[i])
        bias = None if b0 < 0 else self._params[b0:b0 + dout]
        return kernel, bias

    # ---- compile-time settings

    def configure(self, loss, metrics, optimizer, **hyper):
        """Set loss, metrics and optimizer; zero the slots, iterations and accumulators.

        configure(loss_spec: dict, metric_specs: list[dict], opt_spec: dict)
        (NUMERICS_SPEC.md), or the older configure(loss_code, metric_codes,
        opt_code, **hyper) with the kinds' defaults and hyper-parameters."""
        self._check_idle("configure")
        if isinstance(loss, dict):
            if hyper:
                raise TypeError(f"configure() with spec dicts takes no keyword settings; got {sorted(hyper)}")
            loss_spec, metric_specs, opt_spec = loss, list(metrics), optimizer
            if not isinstance(opt_spec, dict) or not all(isinstance(m, dict) for m in metric_specs):
                raise TypeError("configure(loss_spec, metric_specs, opt_spec) takes dicts (NUMERICS_SPEC.md)")
        else:
            loss_spec, metric_specs, opt_spec = _specs_from_codes(loss, metrics, optimizer, hyper)
        cdef hf_loss_spec ls
        cdef hf_opt_spec os
        _fill_loss_spec(&ls, loss_spec)
        _fill_opt_spec(&os, opt_spec)
        n_metrics = len(metric_specs)
        cdef size_t spec_bytes = sizeof(hf_metric_spec)
        keep = []
        mbuf = np.zeros(max(n_metrics, 1) * spec_bytes, dtype=np.uint8)
        cdef hf_metric_spec *ms = <hf_metric_spec *>cnp.PyArray_DATA(<cnp.ndarray>mbuf)
        k = self.output_dim
        state_floats = 2
        for i, spec in enumerate(metric_specs):
            try:
                _fill_metric_spec(&ms[i], spec, keep)
            except CoreError as e:
                raise type(e)(f"metrics[{i}]: {e}") from None
            if hf_metric_spec_check(&ms[i], <size_t>k) != HF_OK:
                raise KindError(f"metrics[{i}] does not fit outputs of width {k}: {spec!r}")
            state_floats += <Py_ssize_t>hf_metric_state_floats(&ms[i], <size_t>k)
        widths = {hf_loss_spec_y_width(&ls, <size_t>k)}
        widths |= {hf_metric_spec_y_width(&ms[i], <size_t>k) for i in range(n_metrics)}
        if len(widths) > 1:
            raise ShapeError(
                "loss and metrics must agree on the width of y: sparse losses/metrics take one "
                f"label column, the others {k} columns"
            )
        n_slots = <Py_ssize_t>hf_opt_n_slots(&os)
        slots = [_aligned_zeros(self.net.n_params) for _ in range(n_slots)]
        self._metric_specs = mbuf
        self._metric_keep = keep
        self._mstate = np.zeros(state_floats, dtype=np.float32)
        self._slots = slots
        for i in range(n_slots):
            self.net.slots[i] = _fptr(slots[i])
        self.net.opt = os
        self.net.loss = ls
        self.net.n_metrics = <size_t>n_metrics
        self.net.metrics = ms
        self.net.mstate = _fptr(self._mstate)
        self.net.iterations = 0
        self._loss = ls.kind
        self._sparse = ls.kind == LOSS_SCCE or any(
            ms[i].kind in _SPARSE_METRICS for i in range(n_metrics))
        self._configured = True

    @property
    def iterations(self):
        """Optimizer steps applied so far (Adam's bias correction uses it)."""
        return self.net.iterations

    @iterations.setter
    def iterations(self, value):
        self._check_idle("iterations")
        value = int(value)
        if not 0 <= value <= INT64_MAX:
            raise PositionError(f"iterations must be an integer in [0, 2**63 - 1]; got {value}")
        self.net.iterations = value

    def optimizer_slots(self):
        """Views of the slot buffers of the configured optimizer (hf_opt_n_slots
        of them), in the order of csrc/hf_optimizer.h (SGD: [m]; RMSprop:
        [v, m, a]; Adam: [m, v, vhat]; then the EMA averages when use_ema);
        the unused ones are included and stay zero."""
        return list(self._slots)

    # ---- metrics

    def reset_metrics(self):
        self._check_idle("reset_metrics")
        self._mstate[...] = 0.0

    def metric_results(self):
        """Running values [loss, metric_0, ...] (0.0 when nothing was accumulated)."""
        cdef const float *st = _fptr(self._mstate)
        cdef size_t k = self.net.dims[self.net.n_layers], off = 2, i
        cdef list out = [<double>(st[0] / st[1]) if st[1] != 0.0 else 0.0]
        for i in range(self.net.n_metrics):
            out.append(hf_metric_result(&self.net.metrics[i], st + off, k))
            off += hf_metric_state_floats(&self.net.metrics[i], k)
        return out

    def metric_state(self):
        return self._mstate.copy()

    def set_metric_state(self, state):
        self._check_idle("set_metric_state")
        arr = np.asarray(state)
        if arr.dtype.kind not in "biuf":
            raise DtypeError(f"state must hold real numbers; got dtype {arr.dtype}")
        if arr.shape != self._mstate.shape:
            raise ShapeError(f"state must have shape {self._mstate.shape}; got {arr.shape}")
        self._mstate[...] = arr

    # ---- the steps

    cdef int _check_idle(self, str where) except -1:
        if self._busy:
            raise BusyError(f"{where}: this Network is running a step in another thread")
        return 0

    cdef float *_workspace(self, size_t batch) except NULL:
        """Workspace for batches of up to ``batch`` rows, grown only when needed."""
        cdef size_t need = hf_network_workspace(&self.net, batch)
        if self._ws is None or need > self._ws_floats:
            try:
                self._ws = np.empty(max(need, 1), dtype=np.float32)
            except MemoryError:
                raise WorkspaceError(
                    f"cannot allocate the workspace for batches of {batch} rows; use a smaller batch_size"
                ) from None
            self._ws_floats = need
        return _fptr(self._ws)

    cdef int _check_run(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, bint need_y) except -1:
        if self._busy:
            raise BusyError("this Network is running a step in another thread; use one Network per thread")
        if data is None:
            raise DtypeError("data must be a Dataset; got None")
        if data.data.x_width != self.net.dims[0]:
            raise ShapeError(
                f"data.x must have {self.net.dims[0]} columns (the input_dim); got {data.data.x_width}"
            )
        if (start < 0 or count < 1 or start > <Py_ssize_t>data.data.n_positions
                or count > <Py_ssize_t>data.data.n_positions - start):
            raise PositionError(
                f"start={start}, count={count} must select positions inside [0, {data.data.n_positions}) "
                "with count >= 1"
            )
        if batch_size < 1:
            raise PositionError(f"batch_size must be >= 1; got {batch_size}")
        if min(batch_size, count) > _BLAS_INT_MAX:
            raise ShapeError(f"a batch may hold at most {_BLAS_INT_MAX} rows (the BLAS int); got {min(batch_size, count)}")
        if need_y:
            if not self._configured:
                raise KindError("call configure(loss, metrics, optimizer) before training or testing")
            if data.data.y == NULL:
                raise ShapeError("data has no y; build the Dataset with y to train or evaluate")
            k = <size_t>self.net.dims[self.net.n_layers]
            if data.data.y_width != hf_loss_spec_y_width(&self.net.loss, k):
                raise ShapeError(
                    f"y must have {hf_loss_spec_y_width(&self.net.loss, k)} column(s) for this loss and "
                    f"{k} outputs; got {data.data.y_width}"
                )
            if self._sparse:
                data._check_labels(<Py_ssize_t>k)
        return 0

    def train_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, lr):
        """One step on positions [start, start + count), GIL released."""
        return self._run_train(data, start, count, count, lr, False)

    def train_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                      Py_ssize_t batch_size, lr, *, bint stop_on_nonfinite=False):
        """ceil(count / batch_size) consecutive steps in one native call;
        returns how many ran (fewer only when stop_on_nonfinite stopped it)."""
        return self._run_train(data, start, count, batch_size, lr, stop_on_nonfinite)

    cdef Py_ssize_t _run_train(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                               Py_ssize_t batch_size, object lr, bint stop) except -1:
        self._check_run(data, start, count, batch_size, True)
        cdef Py_ssize_t n_batches = (count + batch_size - 1) // batch_size
        if <int64_t>n_batches > INT64_MAX - self.net.iterations:
            raise PositionError(
                f"iterations ({self.net.iterations}) + {n_batches} steps would overflow int64; "
                "reset optimizer.iterations to a smaller value"
            )
        cdef float lrf = 0.0
        cdef const float *table = NULL
        if isinstance(lr, np.ndarray):
            if (lr.dtype != np.float32 or lr.ndim != 1 or not lr.flags.c_contiguous
                    or lr.shape[0] < n_batches):
                raise DtypeError(
                    f"lr must be a float or a C-contiguous float32 array with one rate per batch "
                    f"({n_batches}); got {lr.dtype} array of shape {lr.shape}"
                )
            if not np.isfinite(lr[:n_batches]).all():
                raise NonFiniteError("lr must hold finite float32 rates; got NaN or infinity")
            table = <const float *>cnp.PyArray_DATA(<cnp.ndarray>lr)
        else:
            lrf = <float>float(lr)
            if not isfinite(lrf):
                raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        return self._run(_TRAIN, data, start, count, batch_size, lrf, table, stop, NULL)

    def test_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count):
        """Forward, loss and metric accumulation on positions [start, start + count)."""
        return self._run_test(data, start, count, count)

    def test_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                     Py_ssize_t batch_size):
        return self._run_test(data, start, count, batch_size)

    cdef Py_ssize_t _run_test(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                              Py_ssize_t batch_size) except -1:
        self._check_run(data, start, count, batch_size, True)
        return self._run(_TEST, data, start, count, batch_size, 0.0, NULL, False, NULL)

    def predict_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, out):
        """Forward into out[start:start + count]."""
        return self._run_predict(data, start, count, count, out)

    def predict_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, out):
        return self._run_predict(data, start, count, batch_size, out)

    cdef Py_ssize_t _run_predict(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                                 Py_ssize_t batch_size, object out) except -1:
        self._check_run(data, start, count, batch_size, False)
        cdef cnp.ndarray o
        if (cnp.PyArray_CheckExact(out) and cnp.PyArray_TYPE(<cnp.ndarray>out) == cnp.NPY_FLOAT32
                and cnp.PyArray_ISCARRAY(<cnp.ndarray>out) and cnp.PyArray_NDIM(<cnp.ndarray>out) == 2
                and cnp.PyArray_DIM(<cnp.ndarray>out, 0) == <cnp.npy_intp>data.data.n_positions
                and cnp.PyArray_DIM(<cnp.ndarray>out, 1) == <cnp.npy_intp>self.net.dims[self.net.n_layers]):
            o = <cnp.ndarray>out
        else:
            _check_out(out, "out", (<Py_ssize_t>data.data.n_positions, self.output_dim))
            o = <cnp.ndarray>out
        return self._run(_PREDICT, data, start, count, batch_size, 0.0, NULL, False,
                         <float *>cnp.PyArray_DATA(o))

    @property
    def last_run_batches(self):
        """Batches completed by the last run, also when it raised (a Ctrl-C
        between batches, an error): the loop keeps its position exact."""
        return self._last_run_batches

    cdef Py_ssize_t _run(self, int mode, Dataset data, Py_ssize_t start, Py_ssize_t count,
                         Py_ssize_t batch_size, float lr, const float *lr_table, bint stop,
                         float *out) except -1:
        """The checked run of batches, with the GIL released; the busy marks
        make a concurrent call on this network or a change of the data raise.

        The batches go to C in slices: one batch at a time when each needs its
        own rate or a NaN check, else slices that double while they take under
        2 ms. Between slices, at most every 5 ms, the GIL is taken back for
        PyErr_CheckSignals, so Ctrl-C interrupts a long run after a whole
        batch (never inside one)."""
        cdef size_t first_rows = <size_t>min(batch_size, count)
        cdef float *ws = self._workspace(first_rows)
        cdef hf_status st = HF_OK
        cdef size_t b = <size_t>batch_size, total = (<size_t>count + b - 1) // b
        cdef size_t done = 0, take, rows, pos, cap = 1
        cdef bint per_batch = lr_table != NULL or stop
        cdef int64_t now, slice_start, last_check
        cdef float mean
        self._busy = True
        data._users += 1
        self._last_run_batches = 0
        try:
            with nogil:
                last_check = _now_ns()
                while done < total:
                    take = 1 if per_batch else min(cap, total - done)
                    pos = <size_t>start + done * b
                    rows = min(take * b, <size_t>start + <size_t>count - pos)
                    slice_start = _now_ns()
                    if mode == _TRAIN:
                        st = hf_train_steps(&self.net, &data.data, pos, rows, b,
                                            lr_table[done] if lr_table != NULL else lr, ws)
                    elif mode == _TEST:
                        st = hf_test_steps(&self.net, &data.data, pos, rows, b, ws)
                    else:
                        st = hf_predict_steps(&self.net, &data.data, pos, rows, b, out, ws)
                    if st != HF_OK:
                        break
                    done += take
                    self._last_run_batches = <Py_ssize_t>done
                    if stop:
                        mean = self.net.mstate[0] / self.net.mstate[1]
                        if not isfinite(mean):
                            break
                    now = _now_ns()
                    if not per_batch and now - slice_start < 2000000 and cap < (1 << 30):
                        cap *= 2
                    if now - last_check >= 5000000 and done < total:
                        last_check = now
                        with gil:
                            PyErr_CheckSignals()
        finally:
            self._busy = False
            data._users -= 1
        if st != HF_OK:
            _raise(st, _MODE_NAMES[mode])
        return <Py_ssize_t>done
