# Included by _core.pyx: the Network (parameters, workspace and the runs of batches).

# ---------------------------------------------------------------- Network

cdef class Network:
    """A Sequential stack of Dense layers with its parameters, optimizer
    slots, metric accumulators and workspace (see _core.pyi)."""

    cdef hf_network net
    cdef object _dims, _acts, _w_off, _b_off, _metrics
    cdef object _params, _grads, _slots, _mstate, _ws
    cdef object _reduce  # data-parallel: [grads | metric deltas], made on first use
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
        self._metrics = np.zeros(0, dtype=np.intc)
        self._mstate = np.zeros((1, 2), dtype=np.float32)
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
        self.net.opt.kind = OPT_RMSPROP
        self.net.loss = LOSS_MSE
        self.net.n_metrics = 0
        self.net.metrics = <const int *>cnp.PyArray_DATA(<cnp.ndarray>self._metrics)
        self.net.mstate = _fptr(self._mstate)
        self.net.iterations = 0
        self._reduce = None  # its metric part has the new metrics' size
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

    def configure(self, loss, metrics, optimizer, *, rho=0.9, momentum=0.0, epsilon=1e-7,
                  centered=False, nesterov=False, beta_1=0.9, beta_2=0.999, amsgrad=False):
        """Set loss, metrics and optimizer; zero the slots, iterations and accumulators."""
        self._check_idle("configure")
        loss, optimizer = int(loss), int(optimizer)
        metrics = [int(m) for m in metrics]
        if not hf_loss_valid(loss):
            raise KindError(f"loss must be one of LOSS_* (0-4); got {loss}")
        if not hf_opt_valid(optimizer):
            raise KindError(f"optimizer must be one of OPT_* (0-2); got {optimizer}")
        for i, m in enumerate(metrics):
            if not hf_metric_valid(m):
                raise KindError(f"metrics[{i}] must be one of METRIC_* (0-7); got {m}")
        cdef hf_opt opt
        _fill_opt(&opt, optimizer, rho, momentum, epsilon, centered, nesterov, beta_1, beta_2,
                  amsgrad)
        k = self.output_dim
        if loss == LOSS_SCCE and k < 1:
            raise ShapeError("sparse categorical crossentropy needs at least one output")
        widths = {hf_loss_y_width(loss, k)} | {hf_metric_y_width(m, k) for m in metrics}
        if len(widths) > 1:
            raise ShapeError(
                "loss and metrics must agree on the width of y: sparse losses/metrics take one "
                f"label column, the others {k} columns"
            )
        self._metrics = np.array(metrics, dtype=np.intc)
        self._mstate = np.zeros((1 + len(metrics), 2), dtype=np.float32)
        for slot in self._slots:
            slot[...] = 0.0
        self.net.opt = opt
        self.net.loss = loss
        self.net.n_metrics = <size_t>len(metrics)
        self.net.metrics = <const int *>cnp.PyArray_DATA(<cnp.ndarray>self._metrics)
        self.net.mstate = _fptr(self._mstate)
        self.net.iterations = 0
        self._reduce = None  # its metric part has the new metrics' size
        self._loss = loss
        self._sparse = loss == LOSS_SCCE or any(m in _SPARSE_METRICS for m in metrics)
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
        """Views of the slot buffers of the configured optimizer, in the order
        of _core.pyi (SGD: [m]; RMSprop: [v, m, a]; Adam: [m, v, vhat]); the
        unused ones are included and stay zero."""
        return [self._slots[i] for i in range(_N_SLOTS[self.net.opt.kind])]

    # ---- metrics

    def reset_metrics(self):
        self._check_idle("reset_metrics")
        self._mstate[...] = 0.0

    def metric_results(self):
        """Running means [loss, metric_0, ...] (0.0 when nothing was accumulated)."""
        cdef cnp.ndarray ms = self._mstate
        cdef const float *st = <const float *>cnp.PyArray_DATA(ms)
        cdef Py_ssize_t i, m = cnp.PyArray_DIM(ms, 0)
        cdef list out = [0.0] * m
        for i in range(m):
            if st[2 * i + 1] != 0.0:
                # float32 division, as Keras's divide_no_nan(total, count).
                out[i] = <double>(st[2 * i] / st[2 * i + 1])
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
            if data.data.y_width != hf_loss_y_width(self._loss, k):
                raise ShapeError(
                    f"y must have {hf_loss_y_width(self._loss, k)} column(s) for this loss and "
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

    # ---- the data-parallel step (hookfit.distribute): train_batch in two
    # calls around one in-place Allreduce of reduce_buffer.

    @property
    def reduce_buffer(self):
        """The float32 buffer [gradients (n_params) | loss and metric deltas
        ((1 + n_metrics) x 2) | one float for the caller] that grad_batch
        fills and update_batch reads: the one array a data-parallel step sums
        over ranks, in place. The last float is never touched here (the loop
        sums its stop flag in it, at no extra cost)."""
        self._check_idle("reduce_buffer")
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before a data-parallel step")
        if self._reduce is None:
            # The gradients live in this buffer from now on (no copy per step).
            self._reduce = _aligned_zeros(<Py_ssize_t>hf_reduce_floats(&self.net) + 1)
            self._grads = self._reduce[:self.net.n_params]
            self.net.grads = _fptr(self._reduce)
        return self._reduce

    def grad_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, Py_ssize_t global_rows):
        """This rank's share of a data-parallel step: forward, loss and
        backward (the gradient scaled by count / global_rows) on positions
        [start, start + count), into reduce_buffer; count may be 0. Changes
        no weight, slot, accumulator or iteration count. GIL released."""
        buf = self.reduce_buffer
        if count == 0:
            if data is None or not 0 <= start <= <Py_ssize_t>data.data.n_positions:
                raise PositionError(f"start={start} must lie in [0, {data.data.n_positions if data is not None else 0}]")
            self._check_run(data, 0, 1, 1, True)
        else:
            self._check_run(data, start, count, count, True)
        if not count <= global_rows or global_rows < 1:
            raise PositionError(
                f"global_rows must be >= 1 and >= this share's count ({count}); got {global_rows}"
            )
        cdef float *ws = self._workspace(<size_t>max(count, 1))
        cdef float *mdelta = _fptr(buf) + self.net.n_params
        cdef hf_status st
        self._busy = True
        data._users += 1
        try:
            with nogil:
                st = hf_grad_step(&self.net, &data.data, <size_t>start, <size_t>count,
                                  <size_t>global_rows, mdelta, ws)
        finally:
            self._busy = False
            data._users -= 1
        if st != HF_OK:
            _raise(st, "grad_batch")
        return count

    def update_batch(self, lr):
        """The rest of the step, after the sum over ranks: add the metric
        deltas to the accumulators, apply the optimizer to the summed
        gradients, iterations += 1."""
        buf = self.reduce_buffer
        cdef float lrf = <float>float(lr)
        if not isfinite(lrf):
            raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        if self.net.iterations == INT64_MAX:
            raise PositionError("iterations would overflow int64; reset optimizer.iterations")
        cdef const float *mdelta = _fptr(buf) + self.net.n_params
        cdef hf_status st
        self._busy = True
        try:
            with nogil:
                st = hf_update_step(&self.net, mdelta, lrf)
        finally:
            self._busy = False
        if st != HF_OK:
            _raise(st, "update_batch")
