# Included by _core.pyx: the Network (parameters, workspace and the runs of batches).

# ---------------------------------------------------------------- Network

cdef void *_zalloc(size_t n, size_t size):
    """Zeroed memory for n items (NULL on overflow or when out of memory)."""
    if size != 0 and n > (<size_t>PY_SSIZE_T_MAX) // size:
        return NULL
    cdef void *p = PyMem_Malloc(n * size)
    if p != NULL:
        memset(p, 0, n * size)
    return p


cdef list _NEVER_SLOW = [False]


cdef Py_ssize_t _HAND_OVER_EVERY = 8  # timed dispatches kept before a table's record()


cdef int _call_hooks(tuple fns, Py_ssize_t batch, dict logs, bint lean, object table,
                     list times) except -1:
    """One batch's hook table: each callable with (batch, logs); unless
    ``lean``, each timed, the durations added to ``times`` (the table's
    ``pending``) once all have returned, and handed to ``table.record``
    every ``_HAND_OVER_EVERY`` timed dispatches (so that a hook found slow
    is timed every batch from then on, within a long run too)."""
    cdef object index = batch
    cdef object fn
    cdef int64_t t, now
    cdef list taken
    if lean:
        for fn in fns:
            fn(index, logs)
        return 0
    taken = []
    t = _now_ns()
    for fn in fns:
        fn(index, logs)
        now = _now_ns()
        taken.append(now - t)
        t = now
    times.extend(taken)
    if len(times) >= _HAND_OVER_EVERY * len(fns):
        table.record(times, 0)
        del times[:]
    return 0


cdef class Network:
    """A network of nodes in topological order (a Sequential stack of Dense
    layers is the chain Input -> Dense -> ...), with its parameters,
    optimizer slots, metric accumulators and workspace (see _core.pyi)."""

    cdef hf_network net
    cdef hf_node *_nodes
    cdef size_t *_inputs
    cdef unsigned char *_accumulate
    cdef hf_var *_vars
    cdef object _graph, _dense_nodes, _metric_specs, _metric_keep
    cdef object _params, _grads, _slots, _mstate, _ws
    cdef object _reduce  # data-parallel: [grads | metric deltas], made on first use
    cdef size_t _ws_floats
    cdef bint _busy, _configured, _sparse, _ready
    cdef int _loss
    cdef Py_ssize_t _last_run_batches
    cdef bint _last_run_nonfinite
    cdef size_t _last_cap, _last_rows  # the last train/test batch's output, in the workspace
    cdef int64_t _eager_calls

    def __init__(self, input_dim, units, activations, use_bias):
        self._check_idle("Network.__init__")
        from hookfit import _graph
        x_width, nodes, output = _graph.chain(input_dim, units, activations, use_bias)
        self._build(x_width, nodes, output)

    @classmethod
    def from_graph(cls, x_width, nodes, output):
        """A network from node dicts in topological order (see _core.pyi)."""
        cdef Network self = cls.__new__(cls)
        self._build(x_width, nodes, output)
        return self

    def __dealloc__(self):
        self._free_nodes()

    cdef void _free_nodes(self) noexcept:
        PyMem_Free(self._nodes)
        PyMem_Free(self._inputs)
        PyMem_Free(self._accumulate)
        PyMem_Free(self._vars)
        self._nodes = NULL
        self._inputs = NULL
        self._accumulate = NULL
        self._vars = NULL

    cdef int _build(self, x_width, nodes, output) except -1:
        """Check the graph (hookfit._graph), then copy it into C structs.
        A refused graph leaves this object as it was."""
        from hookfit import _graph
        graph = _graph.Graph(x_width, nodes, output)
        cdef size_t n = len(graph.nodes)
        cdef size_t n_edges = sum(len(nd["inputs"]) for nd in graph.nodes)
        total = graph.n_params
        try:
            params = _aligned_zeros(total)
            params[...] = graph.initial_params()
            grads = _aligned_zeros(total)
            slots = [_aligned_zeros(total) for _ in range(3)]
        except (MemoryError, ValueError):  # ValueError: more bytes than an address space
            raise WorkspaceError(
                f"cannot allocate {total} parameters (with their gradients and optimizer slots); "
                "use smaller layers"
            ) from None
        cdef hf_node *cn = <hf_node *>_zalloc(n, sizeof(hf_node))
        cdef size_t *ci = <size_t *>_zalloc(max(n_edges, 1), sizeof(size_t))
        cdef unsigned char *ca = <unsigned char *>_zalloc(max(n_edges, 1), 1)
        cdef hf_var *cv = <hf_var *>_zalloc(max(len(graph.vars), 1), sizeof(hf_var))
        if cn == NULL or ci == NULL or ca == NULL or cv == NULL:
            PyMem_Free(cn); PyMem_Free(ci); PyMem_Free(ca); PyMem_Free(cv)
            raise WorkspaceError("cannot allocate the network's node table")
        cdef size_t e = 0, i, p
        for i in range(n):
            nd = graph.nodes[i]
            cn[i].kind = nd["kind"]
            cn[i].width = nd["width"]
            cn[i].n_inputs = len(nd["inputs"])
            cn[i].inputs = ci + e
            cn[i].accumulate = ca + e
            for p in range(cn[i].n_inputs):
                ci[e + p] = nd["inputs"][p]
                ca[e + p] = 1 if nd["accumulate"][p] else 0
            e += cn[i].n_inputs
            cn[i].offset = nd["offset"]
            cn[i].act = nd["act"]
            cn[i].alpha = nd["alpha"]
            cn[i].w_off, cn[i].b_off, cn[i].s_off = nd["w_off"], nd["b_off"], nd["s_off"]
            cn[i].trainable = nd["trainable"]
            cn[i].kernel_l1, cn[i].kernel_l2 = nd["kernel_l1"], nd["kernel_l2"]
            cn[i].bias_l1, cn[i].bias_l2 = nd["bias_l1"], nd["bias_l2"]
            cn[i].activity_l1, cn[i].activity_l2 = nd["activity_l1"], nd["activity_l2"]
            cn[i].seed = <uint64_t>nd["seed"]
            cn[i].drop_threshold = <uint32_t>nd["drop_threshold"]
            cn[i].drop_scale = nd["drop_scale"]
            cn[i].shared_row = nd["shared_row"]
            cn[i].momentum, cn[i].epsilon = nd["momentum"], nd["epsilon"]
            cn[i].live, cn[i].backward = nd["live"], nd["backward"]
            cn[i].val, cn[i].aux, cn[i].grad, cn[i].stats = nd["val"], nd["aux"], nd["grad"], nd["stats"]
        for i in range(len(graph.vars)):
            cv[i].offset, cv[i].size = graph.vars[i]

        self._free_nodes()
        self._nodes, self._inputs, self._accumulate, self._vars = cn, ci, ca, cv
        self._graph = graph
        self._dense_nodes = [j for j, nd in enumerate(graph.nodes) if nd["kind"] == NODE_DENSE]
        self._params, self._grads, self._slots = params, grads, slots
        self._metric_specs = np.zeros(sizeof(hf_metric_spec), dtype=np.uint8)
        self._metric_keep = []
        self._mstate = np.zeros(2, dtype=np.float32)
        self._ws = None
        self._ws_floats = 0
        self._busy = False
        self._configured = False
        self._sparse = False
        self._loss = 0
        self._eager_calls = 0

        self.net.n_nodes = n
        self.net.nodes = cn
        self.net.output = <size_t>graph.output
        self.net.x_width = <size_t>graph.x_width
        self.net.row_floats = <size_t>graph.row_floats
        self.net.fixed_floats = <size_t>graph.fixed_floats
        self.net.dense1 = graph.dense1
        self.net.n_params = <size_t>total
        self.net.params = _fptr(self._params)
        self.net.grads = _fptr(self._grads)
        for i in range(HF_OPT_MAX_SLOTS):
            self.net.slots[i] = _fptr(self._slots[i]) if i < 3 else NULL
        self.net.vars = cv
        self.net.n_vars = len(graph.vars)
        self.net.opt = hf_opt_spec_of(OPT_RMSPROP)
        self.net.loss = hf_loss_spec_of(LOSS_MSE)
        self.net.n_metrics = 0
        self.net.metrics = <const hf_metric_spec *>cnp.PyArray_DATA(<cnp.ndarray>self._metric_specs)
        self.net.mstate = _fptr(self._mstate)
        self.net.iterations = 0
        self._reduce = None  # its metric part has the new metrics' size
        self.net.blas = &_BLAS
        self._ready = True
        return 0

    cdef int _check_ready(self) except -1:
        if not self._ready:
            raise StateError(
                "this Network is not initialised; make it with Network(...) or Network.from_graph(...)"
            )
        return 0

    # ---- description and parameters

    @property
    def n_layers(self):
        """Dense nodes (the layers of a chain)."""
        self._check_ready()
        return len(self._dense_nodes)

    @property
    def n_nodes(self):
        self._check_ready()
        return <Py_ssize_t>self.net.n_nodes

    @property
    def n_params(self):
        self._check_ready()
        return <Py_ssize_t>self.net.n_params

    @property
    def input_dim(self):
        """The width of x."""
        self._check_ready()
        return <Py_ssize_t>self.net.x_width

    @property
    def output_dim(self):
        self._check_ready()
        return <Py_ssize_t>hf_network_output_width(&self.net)

    @property
    def params(self):
        """The flat float32 parameter buffer (the array itself, writable)."""
        self._check_ready()
        return self._params

    def layer_weights(self, i):
        """Views (kernel (in, out), bias (out,) or None) of the i-th Dense node."""
        self._check_ready()
        i = int(i)
        if not 0 <= i < len(self._dense_nodes):
            raise PositionError(f"layer index must be in [0, {len(self._dense_nodes)}); got {i}")
        views = self._graph.node_weights(self._params, self._dense_nodes[i])
        return views[0], (views[1] if len(views) > 1 else None)

    def node_weights(self, i):
        """Writable views of node i's weights in Keras's order (see _core.pyi)."""
        self._check_ready()
        i = int(i)
        if not 0 <= i < <Py_ssize_t>self.net.n_nodes:
            raise PositionError(f"node index must be in [0, {self.net.n_nodes}); got {i}")
        return self._graph.node_weights(self._params, i)

    def variables(self):
        """(node, weight name, offset, size, trainable) of every weight array."""
        self._check_ready()
        return self._graph.variables()

    def trainable_mask(self):
        """One bool per parameter: True where the optimizer updates it."""
        self._check_ready()
        return self._graph.trainable_mask()

    def forward(self, x, training=False):
        """act(...) of the whole graph on x (n, input_dim): a new (n, output_dim)
        float32 array. training=True runs dropout (a fresh mask per call) and
        batch statistics, which move BatchNormalization's moving statistics
        as a Keras call with training=True does."""
        self._check_ready()
        data = Dataset(x, check_finite=False)
        out = np.empty((data.n_rows, self.output_dim), dtype=np.float32)
        cdef bint train = bool(training)
        cdef int64_t key = 0
        if train:
            # Negative keys: never a training step's (iterations >= 0).
            self._eager_calls += 1
            key = -self._eager_calls
        self._check_run(data, 0, data.n_rows, data.n_rows, False)
        self._run(_PREDICT, data, 0, data.n_rows, data.n_rows, 0.0, NULL, False,
                  <float *>cnp.PyArray_DATA(<cnp.ndarray>out), train, key)
        return out

    # ---- compile-time settings

    def configure(self, loss, metrics, optimizer, **hyper):
        """Set loss, metrics and optimizer; zero the slots, iterations and accumulators.

        configure(loss_spec: dict, metric_specs: list[dict], opt_spec: dict)
        (NUMERICS_SPEC.md), or the older configure(loss_code, metric_codes,
        opt_code, **hyper) with the kinds' defaults and hyper-parameters."""
        self._check_ready()
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
        try:
            slots = [_aligned_zeros(self.net.n_params) for _ in range(n_slots)]
            # The gradients leave the reduce buffer dropped below (it may be
            # memory lent by a communicator: use_reduce_buffer).
            grads = _aligned_zeros(self.net.n_params) if self._reduce is not None else None
        except (MemoryError, ValueError):  # ValueError: more bytes than an address space
            raise WorkspaceError(
                f"cannot allocate {n_slots} optimizer slots of {self.net.n_params} floats"
            ) from None
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
        if grads is not None:
            self._grads = grads
            self.net.grads = _fptr(grads)
        self._reduce = None  # its metric part has the new metrics' size
        self._loss = ls.kind
        self._sparse = ls.kind == LOSS_SCCE or any(
            ms[i].kind in _SPARSE_METRICS for i in range(n_metrics))
        self._configured = True

    @property
    def iterations(self):
        """Optimizer steps applied so far (Adam's bias correction uses it)."""
        self._check_ready()
        return self.net.iterations

    @iterations.setter
    def iterations(self, value):
        self._check_ready()
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
        self._check_ready()
        return list(self._slots)

    # ---- metrics

    def reset_metrics(self):
        self._check_ready()
        self._check_idle("reset_metrics")
        self._mstate[...] = 0.0

    def metric_results(self):
        """Running values [loss, metric_0, ...] (0.0 when nothing was accumulated)."""
        self._check_ready()
        return self._results()

    cdef object _results(self, tuple names=None):
        """The running values [loss, metric_0, ...], or with names the dict
        {names[0]: loss, names[1]: metric_0, ...} (fit's batch-end logs,
        built here: no list, no Python call per batch)."""
        cdef double few[16]
        cdef double *v = few
        cdef size_t n = 1 + self.net.n_metrics, i
        if n > 16:
            v = <double *>PyMem_Malloc(n * sizeof(double))
            if v == NULL:
                raise MemoryError()
        try:
            hf_network_results(&self.net, v)
            if names is None:
                return [v[i] for i in range(n)]
            return {names[i]: v[i] for i in range(n)}
        finally:
            if v != few:
                PyMem_Free(v)

    def metric_state(self):
        self._check_ready()
        return self._mstate.copy()

    def set_metric_state(self, state):
        self._check_ready()
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
        if need == SIZE_MAX or need > <size_t>PY_SSIZE_T_MAX // 4:
            raise WorkspaceError(
                f"the workspace for batches of {batch} rows does not fit in memory; use a smaller batch_size"
            )
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
        self._check_ready()
        if self._busy:
            raise BusyError("this Network is running a step in another thread; use one Network per thread")
        if data is None:
            raise DtypeError("data must be a Dataset; got None")
        data._check_ready()
        if data.data.x_width != self.net.x_width:
            raise ShapeError(
                f"data.x must have {self.net.x_width} columns (the input_dim); got {data.data.x_width}"
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
            k = hf_network_output_width(&self.net)
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
                      Py_ssize_t batch_size, lr, *, bint stop_on_nonfinite=False,
                      NativeProgbar bar=None):
        """ceil(count / batch_size) consecutive steps in one native call;
        returns how many ran (fewer only when stop_on_nonfinite stopped it).
        ``bar``: a progress bar updated after each step (its current step
        is start // batch_size + the steps run), drawn when due."""
        return self._run_train(data, start, count, batch_size, lr, stop_on_nonfinite, bar)

    def train_batches_hooked(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                             Py_ssize_t batch_size, optimizer, Py_ssize_t first_hook,
                             Py_ssize_t sample_phase, Py_ssize_t sample_mask,
                             begin, end, tuple names, position, model):
        """fit's per-batch loop (batch_runner._per_batch, once Keras's
        slow-callback check is over) without its Python overhead:
        ceil(count / batch_size) steps, each one native call (GIL released)
        between the batch hooks ``begin(batch, {})`` and ``end(batch,
        {names[0]: loss, names[1]: metric_0, ...})``.

        ``begin``, ``end``: a hook table (callbacks.callback_list.LeanHook:
        its ``fns``, its ``slow`` flag) or None. A batch's hooks are timed,
        callback by callback, here (two clock reads per callback, no Python
        frame between them) when ``(batch - sample_phase) & sample_mask ==
        0`` or a table's ``slow[0]`` is set as the batch starts; the
        durations go to the table's ``pending`` list, handed to
        ``table.record(pending, 0)`` (and cleared) every 8 timed
        dispatches, and the untimed dispatches are added to its
        ``counts[1]`` when the run ends (also when it raises): no Python
        call for them at the end of each run (``LeanHook.drain`` records
        what is left).

        The rate is read before each step, after its begin hooks (a hook may
        change it): ``optimizer._learning_rate`` when it is a float, else
        ``optimizer._rate_at(iterations)`` (a schedule). ``position.step +=
        1`` after each step, before its end hooks. Stops after the batch
        whose hooks set ``model.stop_training``. Returns the time spent in
        the steps (ns); ``last_run_batches`` is the steps run, exact when a
        hook raises. ``first_hook``: the hook index of the first batch."""
        if optimizer is None or position is None or model is None:
            raise TypeError("train_batches_hooked: optimizer, position and model are needed")
        return self._hooked(_TRAIN, data, start, count, batch_size, first_hook, sample_phase, sample_mask,
                            begin, end, names, None, optimizer, position, model)

    def test_batches_hooked(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                            Py_ssize_t batch_size, Py_ssize_t first_hook, Py_ssize_t sample_phase,
                            Py_ssize_t sample_mask, begin, end, tuple names):
        """evaluate's per-batch loop, as train_batches_hooked: each step
        between ``begin(batch, {})`` and ``end(batch, {names[0]: loss,
        ...})`` (no rate, no position, no stop flag)."""
        return self._hooked(_TEST, data, start, count, batch_size, first_hook, sample_phase, sample_mask,
                            begin, end, names, None, None, None, None)

    def predict_batches_hooked(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                               Py_ssize_t batch_size, out, Py_ssize_t first_hook, Py_ssize_t sample_phase,
                               Py_ssize_t sample_mask, begin, end):
        """predict's per-batch loop, as train_batches_hooked: each step
        into ``out`` (as predict_batches) between ``begin(batch, {})`` and
        ``end(batch, {"outputs": out[rows of the batch]})``."""
        self._check_predict_out(data, out)
        return self._hooked(_PREDICT, data, start, count, batch_size, first_hook, sample_phase, sample_mask,
                            begin, end, (), out, None, None, None)

    cdef object _hooked(self, int mode, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, Py_ssize_t first_hook, Py_ssize_t sample_phase,
                        Py_ssize_t sample_mask, begin, end, tuple names, object out, optimizer, position,
                        model):
        """The per-batch loop of the three *_batches_hooked (train only:
        the rate, the position, the stop flag). Returns the steps' time (ns)."""
        cdef str where = _MODE_NAMES[mode] + "_batches_hooked"
        self._check_run(data, start, count, batch_size, mode != _PREDICT)
        cdef Py_ssize_t n_batches = (count + batch_size - 1) // batch_size
        if mode == _TRAIN and <int64_t>n_batches > INT64_MAX - self.net.iterations:
            raise PositionError(
                f"iterations ({self.net.iterations}) + {n_batches} steps would overflow int64; "
                "reset optimizer.iterations to a smaller value"
            )
        if mode != _PREDICT and len(names) != 1 + <Py_ssize_t>self.net.n_metrics:
            raise ValueError(
                f"{where}: names must hold the loss's and the {self.net.n_metrics} "
                f"metrics' names; got {len(names)}"
            )
        cdef tuple begin_fns = () if begin is None else tuple(begin.fns)
        cdef tuple end_fns = () if end is None else tuple(end.fns)
        cdef list begin_slow = _NEVER_SLOW if begin is None else begin.slow
        cdef list end_slow = _NEVER_SLOW if end is None else end.slow
        cdef list begin_times = None if begin is None else begin.pending
        cdef list end_times = None if end is None else end.pending
        cdef size_t b = <size_t>batch_size
        cdef float *ws = self._workspace(<size_t>min(batch_size, count))
        cdef float *o = NULL if out is None else <float *>cnp.PyArray_DATA(<cnp.ndarray>out)
        cdef Py_ssize_t i, batch, untimed = 0
        cdef size_t pos, rows
        cdef float lrf = 0.0
        cdef hf_status st
        cdef bint lean
        cdef int64_t t0, native_ns = 0
        cdef object logs
        self._last_run_batches = 0
        self._last_run_nonfinite = False
        try:
            for i in range(n_batches):
                batch = first_hook + i
                lean = ((batch - sample_phase) & sample_mask) != 0 and not (begin_slow[0] or end_slow[0])
                if begin_fns:
                    _call_hooks(begin_fns, batch, {}, lean, begin, begin_times)
                if mode == _TRAIN:
                    lr = optimizer._learning_rate
                    if type(lr) is not float:
                        lr = optimizer._rate_at(self.net.iterations)
                    lrf = <float>float(lr)
                    if not isfinite(lrf):
                        raise NonFiniteError(f"the learning rate must be a finite float32 number; got {lrf!r}")
                pos = <size_t>start + <size_t>i * b
                rows = min(b, <size_t>start + <size_t>count - pos)
                # Busy only inside the step: the hooks may use this network.
                self._check_idle(where)
                self._busy = True
                data._users += 1
                try:
                    with nogil:
                        t0 = _now_ns()
                        if mode == _TRAIN:
                            st = hf_train_steps(&self.net, &data.data, pos, rows, b, lrf, ws)
                        elif mode == _TEST:
                            st = hf_test_steps(&self.net, &data.data, pos, rows, b, ws)
                        else:
                            st = hf_forward_steps(&self.net, &data.data, pos, rows, b, False, 0, o, ws)
                        native_ns += _now_ns() - t0
                finally:
                    self._busy = False
                    data._users -= 1
                if st != HF_OK:
                    _raise(st, _MODE_NAMES[mode])
                self._last_run_batches = i + 1
                if mode != _PREDICT:
                    self._last_cap = rows  # one batch per call: its layout holds `rows` rows
                    self._last_rows = rows
                if mode == _TRAIN:
                    position.step += 1
                PyErr_CheckSignals()  # Ctrl-C after a whole batch, before its end hooks
                if end_fns:
                    if mode == _PREDICT:
                        logs = {"outputs": out[pos:pos + rows]}
                    else:
                        logs = self._results(names)
                    _call_hooks(end_fns, batch, logs, lean, end, end_times)
                if lean:
                    untimed += 1
                if mode == _TRAIN and model.stop_training:
                    break
        finally:
            if untimed:
                for table in (begin, end):
                    if table is not None:
                        counts = table.counts
                        counts[1] += untimed
        return native_ns

    cdef Py_ssize_t _run_train(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                               Py_ssize_t batch_size, object lr, bint stop,
                               NativeProgbar bar=None) except -1:
        self._check_run(data, start, count, batch_size, True)
        cdef hf_progbar *pb = NULL
        if bar is not None:
            pb = bar._checked(1 + <Py_ssize_t>self.net.n_metrics)
        cdef Py_ssize_t n_batches = (count + batch_size - 1) // batch_size
        if <int64_t>n_batches > INT64_MAX - self.net.iterations:
            raise PositionError(
                f"iterations ({self.net.iterations}) + {n_batches} steps would overflow int64; "
                "reset optimizer.iterations to a smaller value"
            )
        cdef float lrf = 0.0
        cdef const float *table = NULL
        cdef Py_ssize_t k
        if cnp.PyArray_Check(lr):
            # (C-API checks and a C loop: a learning-rate schedule hands a
            # table to every native run)
            if not (cnp.PyArray_TYPE(<cnp.ndarray>lr) == cnp.NPY_FLOAT32 and cnp.PyArray_NDIM(<cnp.ndarray>lr) == 1
                    and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>lr)
                    and cnp.PyArray_DIM(<cnp.ndarray>lr, 0) >= n_batches):
                raise DtypeError(
                    f"lr must be a float or a C-contiguous float32 array with one rate per batch "
                    f"({n_batches}); got {lr.dtype} array of shape {lr.shape}"
                )
            table = <const float *>cnp.PyArray_DATA(<cnp.ndarray>lr)
            for k in range(n_batches):
                if not isfinite(table[k]):
                    raise NonFiniteError("lr must hold finite float32 rates; got NaN or infinity")
        else:
            lrf = <float>float(lr)
            if not isfinite(lrf):
                raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        return self._run(_TRAIN, data, start, count, batch_size, lrf, table, stop, NULL, False, 0,
                         pb, bar._values if pb != NULL else NULL, 1 + self.net.n_metrics)

    def test_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count):
        """Forward, loss and metric accumulation on positions [start, start + count)."""
        return self._run_test(data, start, count, count)

    def test_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                     Py_ssize_t batch_size, *, NativeProgbar bar=None):
        return self._run_test(data, start, count, batch_size, bar)

    cdef Py_ssize_t _run_test(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                              Py_ssize_t batch_size, NativeProgbar bar=None) except -1:
        self._check_run(data, start, count, batch_size, True)
        cdef size_t n_values = 1 + self.net.n_metrics
        cdef hf_progbar *pb = NULL if bar is None else bar._checked(<Py_ssize_t>n_values)
        return self._run(_TEST, data, start, count, batch_size, 0.0, NULL, False, NULL, False, 0,
                         pb, bar._values if pb != NULL else NULL, n_values)

    def predict_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, out):
        """Forward into out[start:start + count]."""
        return self._run_predict(data, start, count, count, out)

    def predict_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, out, *, NativeProgbar bar=None):
        return self._run_predict(data, start, count, batch_size, out, bar)

    cdef Py_ssize_t _run_predict(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                                 Py_ssize_t batch_size, object out,
                                 NativeProgbar bar=None) except -1:
        self._check_run(data, start, count, batch_size, False)
        cdef hf_progbar *pb = NULL if bar is None else bar._checked(0)  # no values
        self._check_predict_out(data, out)
        return self._run(_PREDICT, data, start, count, batch_size, 0.0, NULL, False,
                         <float *>cnp.PyArray_DATA(<cnp.ndarray>out), False, 0, pb)

    cdef int _check_predict_out(self, Dataset data, object out) except -1:
        """``out`` must be a writable C-contiguous float32 (data.n_positions,
        output_dim) array (the common case decided without a Python call)."""
        if not (cnp.PyArray_CheckExact(out) and cnp.PyArray_TYPE(<cnp.ndarray>out) == cnp.NPY_FLOAT32
                and cnp.PyArray_ISCARRAY(<cnp.ndarray>out) and cnp.PyArray_NDIM(<cnp.ndarray>out) == 2
                and cnp.PyArray_DIM(<cnp.ndarray>out, 0) == <cnp.npy_intp>data.data.n_positions
                and cnp.PyArray_DIM(<cnp.ndarray>out, 1) == <cnp.npy_intp>hf_network_output_width(&self.net)):
            _check_out(out, "out", (<Py_ssize_t>data.data.n_positions, self.output_dim))
        return 0

    @property
    def last_run_nonfinite(self):
        """Right after ``train_batches(..., stop_on_nonfinite=True)``: whether
        it stopped on a NaN/inf running loss (also when that was its last
        batch, where the count of batches alone cannot tell)."""
        self._check_ready()
        return self._last_run_nonfinite

    @property
    def last_run_batches(self):
        """Batches completed by the last run, also when it raised (a Ctrl-C
        between batches, an error): the loop keeps its position exact."""
        self._check_ready()
        return self._last_run_batches

    cdef Py_ssize_t _run(self, int mode, Dataset data, Py_ssize_t start, Py_ssize_t count,
                         Py_ssize_t batch_size, float lr, const float *lr_table, bint stop,
                         float *out, bint training, int64_t key, hf_progbar *bar=NULL,
                         double *bar_values=NULL, size_t bar_n=0) except -1:
        """The checked run of batches, with the GIL released; the busy marks
        make a concurrent call on this network or a change of the data raise.

        The batches go to C in slices that double while they take under 2
        ms (training: each batch at its rate of ``lr_table``, the NaN check
        after each, inside the slice: hf_train_run). Between slices, at most
        every 5 ms, the GIL is taken back for PyErr_CheckSignals, so Ctrl-C
        interrupts a long run after a whole batch (never inside one). With a
        progress bar, one batch at a time:
        after each, the bar is updated with the bar_n running values (drawn
        when due) and its text written when due; a failed write stops the
        run after that batch."""
        cdef size_t first_rows = <size_t>min(batch_size, count)
        cdef float *ws = self._workspace(first_rows)
        cdef hf_status st = HF_OK
        cdef size_t b = <size_t>batch_size, total = (<size_t>count + b - 1) // b
        cdef size_t done = 0, take, rows, pos, cap = 1
        cdef size_t layout_rows = first_rows  # the last call's workspace layout (hf_network.c: min(rows, batch))
        cdef bint per_batch = bar != NULL
        cdef size_t ran = 0
        cdef int stopped = 0
        cdef int64_t now, slice_start, last_check
        cdef int64_t bar_first = <int64_t>(start // batch_size)
        cdef double t
        self._busy = True
        data._users += 1
        self._last_run_batches = 0
        self._last_run_nonfinite = False
        self._last_rows = 0
        try:
            with nogil:
                last_check = _now_ns()
                if bar != NULL:
                    hf_progbar_run_begin(bar, hf_progbar_clock())
                while done < total:
                    take = 1 if per_batch else min(cap, total - done)
                    pos = <size_t>start + done * b
                    rows = min(take * b, <size_t>start + <size_t>count - pos)
                    slice_start = _now_ns()
                    if mode == _TRAIN:
                        st = hf_train_run(&self.net, &data.data, pos, rows, b, lr,
                                          lr_table + done if lr_table != NULL else NULL, stop, ws,
                                          &ran, &stopped)
                        if ran:
                            layout_rows = min(rows, b)
                        done += ran
                        self._last_run_batches = <Py_ssize_t>done
                        if st != HF_OK:
                            break
                        if stopped:
                            self._last_run_nonfinite = True
                            break
                    else:
                        if mode == _TEST:
                            st = hf_test_steps(&self.net, &data.data, pos, rows, b, ws)
                        else:
                            st = hf_forward_steps(&self.net, &data.data, pos, rows, b, training, key,
                                                  out, ws)
                        if st != HF_OK:
                            break
                        layout_rows = min(rows, b)
                        done += take
                        self._last_run_batches = <Py_ssize_t>done
                    if bar != NULL:
                        t = hf_progbar_clock()
                        if hf_progbar_due(bar, t):
                            if bar_n:
                                hf_network_results(&self.net, bar_values)
                            hf_progbar_update(bar, bar_first + <int64_t>done, t, bar_values, bar_n, 0)
                        hf_progbar_batch_done(bar, t)
                        if bar.error:
                            break
                        _bar_give_way(bar)  # Ctrl-C during a blocked write: Python's turn
                    now = _now_ns()
                    if not per_batch and now - slice_start < 2000000 and cap < (1 << 30):
                        cap *= 2
                    if now - last_check >= 5000000 and done < total:
                        last_check = now
                        with gil:
                            PyErr_CheckSignals()
                if bar != NULL and not bar.error:
                    hf_progbar_run_end(bar, hf_progbar_clock())
                    _bar_give_way(bar)
        finally:
            self._busy = False
            data._users -= 1
        if mode != _PREDICT and done > 0:
            self._last_cap = layout_rows
            self._last_rows = min(b, <size_t>count - (done - 1) * b)
        if st != HF_OK:
            _raise(st, _MODE_NAMES[mode])
        if bar != NULL:
            _bar_raise_if_failed(bar)
        return <Py_ssize_t>done

    def last_batch_output(self):
        """A copy of the model output (rows, output_dim) of the last batch
        the last train/test run computed (a train step's output is the one
        made with the weights before its update, in training mode), read
        from the workspace where the step left it: no second forward pass.
        For the metrics that run in Python per batch."""
        self._check_ready()
        self._check_idle("last_batch_output")
        if self._last_rows == 0 or self._ws is None:
            raise PositionError("last_batch_output: no train or test batch has run since the last run")
        cdef size_t k = hf_network_output_width(&self.net)
        cdef const float *p = hf_network_batch_output(&self.net, _fptr(self._ws), self._last_cap)
        if p == NULL:
            raise KindError("last_batch_output: the model output is its input (no layer computes it)")
        out = np.empty((self._last_rows, k), dtype=np.float32)
        memcpy(cnp.PyArray_DATA(<cnp.ndarray>out), p, self._last_rows * k * sizeof(float))
        return out

    # ---- the data-parallel step (hookfit.distribute): train_batch in two
    # calls around one in-place Allreduce of reduce_buffer.

    @property
    def reduce_buffer(self):
        """The float32 buffer [gradients (n_params) | loss and metric deltas
        (the size of metric_state()) | one float for the caller] that grad_batch
        fills and update_batch reads: the one array a data-parallel step sums
        over ranks, in place. The last float is never touched here (the loop
        sums its stop flag in it, at no extra cost)."""
        self._check_idle("reduce_buffer")
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before a data-parallel step")
        if self._reduce is None:
            # The gradients live in this buffer from now on (no copy per step).
            self._reduce = _aligned_zeros(self._reduce_length())
            self._grads = self._reduce[:self.net.n_params]
            self.net.grads = _fptr(self._reduce)
        return self._reduce

    cdef Py_ssize_t _reduce_length(self):
        # [gradients | metric deltas | one float for the caller (the loop's stop flag)]
        return <Py_ssize_t>hf_reduce_floats(&self.net) + 1

    def use_reduce_buffer(self, buf):
        """Make buf the reduce buffer (the gradients live in it from now on)
        and return the one it replaces: for memory a communicator sums with
        no copy (a node's shared memory). buf must be a writable C-contiguous
        float32 array of reduce_buffer's length; its contents are never read
        (grad_batch overwrites all but the last float). configure drops it."""
        self._check_idle("use_reduce_buffer")
        if not self._configured:
            raise KindError("call configure(loss, metrics, optimizer) before a data-parallel step")
        if (not isinstance(buf, np.ndarray) or buf.dtype != np.float32 or buf.ndim != 1
                or not buf.flags.c_contiguous or not buf.flags.writeable):
            raise TypeError(
                "use_reduce_buffer: buf must be a writable C-contiguous 1-D float32 array; "
                f"got {type(buf).__name__}"
                + (f" of dtype {buf.dtype}, shape {buf.shape}" if isinstance(buf, np.ndarray) else "")
            )
        cdef Py_ssize_t need = self._reduce_length()
        if buf.shape[0] != need:
            raise ValueError(
                f"use_reduce_buffer: buf must hold {need} floats (reduce_buffer's length); "
                f"got {buf.shape[0]}"
            )
        old = self.reduce_buffer  # made now if it did not exist: the gradients move with it
        self._reduce = buf
        self._grads = buf[:self.net.n_params]
        self.net.grads = _fptr(buf)
        return old

    def grad_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, Py_ssize_t global_rows,
                   Py_ssize_t row_offset=0):
        """This rank's share of a data-parallel step: forward, loss and
        backward on positions [start, start + count), rows [row_offset,
        row_offset + count) of a global batch of global_rows rows, into
        reduce_buffer (a mean loss's gradient scaled by count / global_rows;
        Dropout draws those rows of the global batch's masks; a trainable
        BatchNormalization uses this share's batch statistics and moves its
        moving statistics by them); count may be 0. Changes no trainable
        weight, slot, accumulator or iteration count. GIL released."""
        buf = self.reduce_buffer
        if not hf_network_data_parallel_ok(&self.net):
            raise KindError(
                "grad_batch: a summed loss (reduction='sum') with weight or activity "
                "regularizers does not train data-parallel (every rank would add the penalty "
                "in full); use reduction='sum_over_batch_size' or drop the regularizers"
            )
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
        if not 0 <= row_offset <= global_rows - count:
            raise PositionError(
                f"row_offset must lie in [0, global_rows - count] = [0, {global_rows - count}]; "
                f"got {row_offset}"
            )
        cdef float *ws = self._workspace(<size_t>max(count, 1))
        cdef float *mdelta = _fptr(buf) + self.net.n_params
        cdef hf_status st
        self._last_rows = 0  # the workspace now holds this share's batch
        self._busy = True
        data._users += 1
        try:
            with nogil:
                st = hf_grad_step(&self.net, &data.data, <size_t>start, <size_t>count,
                                  <size_t>row_offset,
                                  <size_t>global_rows, mdelta, ws)
        finally:
            self._busy = False
            data._users -= 1
        if st != HF_OK:
            _raise(st, "grad_batch")
        if count > 0:  # last_batch_output: this share's outputs (for the metrics run in Python)
            self._last_cap = <size_t>count
            self._last_rows = <size_t>count
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
