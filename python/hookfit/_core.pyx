# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The only bridge between Python and the C kernels in ``csrc/``.

Every public name here is described in ``_core.pyi``. The pattern:

a) check arguments with the GIL held (shape, dtype, contiguity, range) and
   raise an exception that names the argument;
b) release the GIL around the whole batch, or the whole run of batches;
c) map a non-zero C status to exactly one exception type (``_raise``).

Per-batch methods take ``cnp.ndarray`` objects and read their buffers with
``PyArray_DATA``: a typed memoryview costs ~120 ns per argument, which is ~1%
of the tutorial's step for each one.
"""

cimport numpy as cnp
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from scipy.linalg.cython_blas cimport sgemm as _scipy_sgemm

import numpy as np

from hookfit.errors import (
    BusyError,
    CoreError,
    DtypeError,
    KindError,
    LabelError,
    NonFiniteError,
    PositionError,
    ShapeError,
    WorkspaceError,
)

cnp.import_array()


cdef extern from "hf_core.h" nogil:
    ctypedef enum hf_status:
        HF_OK
        HF_ERR_SHAPE
        HF_ERR_KIND
        HF_ERR_LABEL
        HF_ERR_NONFINITE
        HF_ERR_RANGE

    ctypedef int hf_blas_int
    ctypedef void (*hf_sgemm_fn)(char *, char *, hf_blas_int *, hf_blas_int *, hf_blas_int *,
                                 float *, float *, hf_blas_int *, float *, hf_blas_int *,
                                 float *, float *, hf_blas_int *) noexcept nogil
    ctypedef struct hf_blas:
        hf_sgemm_fn sgemm

    ctypedef unsigned int hf_fpenv
    hf_fpenv hf_fpenv_enter()
    void hf_fpenv_leave(hf_fpenv saved)
    const char *hf_simd_path()

    ctypedef struct hf_rows:
        const float *base
        size_t width
        const int64_t *order
        size_t start
    hf_rows hf_rows_plain(const float *base, size_t width)

    int hf_act_valid(int act)
    int hf_loss_valid(int kind)
    int hf_metric_valid(int kind)
    int hf_opt_valid(int kind)
    size_t hf_loss_y_width(int kind, size_t k)
    size_t hf_metric_y_width(int kind, size_t k)

    int64_t hf_first_nonfinite_row(const float *a, size_t rows, size_t w)
    void hf_permutation(int64_t *out, size_t n, uint64_t seed)

    hf_status hf_dense_forward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                               const float *b, int act, float *a, size_t n, size_t din,
                               size_t dout)
    hf_status hf_dense_backward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                                const float *a, const float *da, float *dz, int act, float *dw,
                                float *db, float *dx, size_t n, size_t din, size_t dout)
    hf_status hf_loss(int kind, const hf_rows *y, const hf_rows *sw, const float *pred,
                      size_t n, size_t k, float *grad, double *value)
    hf_status hf_metric_update(int kind, const hf_rows *y, const float *pred, size_t n,
                               size_t k, float *state)

    ctypedef struct hf_opt:
        int kind
        float rho, momentum, epsilon
        int centered, nesterov
        float beta_1, beta_2
        int amsgrad
    hf_status hf_optimizer_update(const hf_opt *opt, float *params, const float *grads,
                                  float *s0, float *s1, float *s2, size_t n, float lr,
                                  int64_t iteration)

    ctypedef struct hf_network:
        size_t n_layers
        const size_t *dims
        const int *acts
        const size_t *w_off
        const int64_t *b_off
        size_t n_params
        float *params
        float *grads
        float *slots[3]
        hf_opt opt
        int loss
        size_t n_metrics
        const int *metrics
        float *mstate
        int64_t iterations
        const hf_blas *blas

    ctypedef struct hf_data:
        const float *x
        const float *y
        const float *sw
        size_t n_rows, x_width, y_width
        const int64_t *order
        size_t n_positions

    size_t hf_network_workspace(const hf_network *net, size_t batch)
    int hf_network_is_dense1(const hf_network *net)
    hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                             size_t batch, float lr, float *ws)
    hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                            size_t batch, float *ws)
    hf_status hf_predict_steps(const hf_network *net, const hf_data *data, size_t start,
                               size_t count, size_t batch, float *out, float *ws)


# The BLAS table: scipy's OpenBLAS sgemm, taken once at import (scikit-learn's
# route); the C code calls it through this pointer and links no BLAS itself.
cdef hf_blas _BLAS
_BLAS.sgemm = <hf_sgemm_fn>_scipy_sgemm

# Enum values, as in the C headers.
ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX = 0, 1, 2, 3, 4
LOSS_MSE, LOSS_MAE, LOSS_BCE, LOSS_CCE, LOSS_SCCE = 0, 1, 2, 3, 4
METRIC_MSE, METRIC_MAE, METRIC_BCE, METRIC_CCE, METRIC_SCCE = 0, 1, 2, 3, 4
METRIC_BINARY_ACCURACY, METRIC_CATEGORICAL_ACCURACY, METRIC_SPARSE_CATEGORICAL_ACCURACY = 5, 6, 7
OPT_SGD, OPT_RMSPROP, OPT_ADAM = 0, 1, 2

_SPARSE_METRICS = (METRIC_SCCE, METRIC_SPARSE_CATEGORICAL_ACCURACY)
_N_SLOTS = {OPT_SGD: 1, OPT_RMSPROP: 3, OPT_ADAM: 3}
# Matrix sizes reach sgemm as hf_blas_int (LP64: 32-bit).
_BLAS_INT_MAX = 2**31 - 1


def cpu_features():
    """The SIMD path chosen at run time for the hot loops (e.g. "x86-64-v3 (avx2+fma)")."""
    return hf_simd_path().decode("ascii")


# ---------------------------------------------------------------- errors

cdef int _raise(hf_status st, str where) except -1:
    """Map a C status to its one exception type (the core's safety net; the
    Python-side checks normally catch these first with a sharper message)."""
    if st == HF_ERR_SHAPE:
        raise ShapeError(f"{where}: array sizes are zero or do not fit together")
    if st == HF_ERR_KIND:
        raise KindError(f"{where}: unknown activation, loss, metric or optimizer id")
    if st == HF_ERR_LABEL:
        raise LabelError(f"{where}: a sparse label is not a class index in [0, number of classes)")
    if st == HF_ERR_NONFINITE:
        raise NonFiniteError(f"{where}: the learning rate must be a finite number")
    if st == HF_ERR_RANGE:
        raise PositionError(f"{where}: batch positions run past the end of the data")
    raise CoreError(f"{where}: unexpected status {<int>st} from the C core")


cdef inline int _ok(hf_status st, str where) except -1:
    if st != HF_OK:
        _raise(st, where)
    return 0


# ---------------------------------------------------------------- conversions

cdef object _as_float32(object value, str name, int ndim):
    """A C-contiguous float32 copy of ``value`` (no copy when it already is
    one); rejects non-real dtypes and wrong ranks with the argument's name."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DtypeError(f"{name} must hold real numbers; got an array of dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ShapeError(f"{name} must be a {ndim}-D array; got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


cdef void _check_out(object out, str name, tuple shape) except *:
    if not isinstance(out, np.ndarray):
        raise DtypeError(f"{name} must be a numpy.ndarray; got {type(out).__name__}")
    if out.dtype != np.float32:
        raise DtypeError(f"{name} must have dtype float32; got {out.dtype}")
    if not out.flags.c_contiguous:
        raise ShapeError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    if not out.flags.writeable:
        raise ShapeError(f"{name} must be writable; got a read-only array")
    if out.shape != shape:
        raise ShapeError(f"{name} must have shape {shape}; got {out.shape}")


cdef void _check_finite(object arr, str name) except *:
    cdef cnp.ndarray a = arr
    cdef size_t rows = <size_t>a.shape[0]
    cdef size_t width = <size_t>(a.size // a.shape[0]) if a.shape[0] else 0
    cdef int64_t bad
    with nogil:
        bad = hf_first_nonfinite_row(<const float *>cnp.PyArray_DATA(a), rows, width)
    if bad >= 0:
        raise NonFiniteError(
            f"{name} must be finite; row {bad} holds NaN or infinity (clean or drop that row)"
        )


cdef inline float *_fptr(object arr):
    return <float *>cnp.PyArray_DATA(<cnp.ndarray>arr)


cdef object _aligned_zeros(Py_ssize_t n):
    """A zeroed float32 (n,) array whose data starts on a 64-byte boundary
    (a cache line), so vector loads of it never split a line."""
    buf = np.zeros(n + 16, dtype=np.float32)
    cdef size_t addr = <size_t>cnp.PyArray_DATA(<cnp.ndarray>buf)
    cdef Py_ssize_t skip = <Py_ssize_t>(((64 - addr % 64) % 64) // 4)
    return buf[skip:skip + n]


cdef inline object _read_only(object arr):
    view = arr.view()
    view.flags.writeable = False
    return view


# ---------------------------------------------------------------- Dataset

# Which run of batches Network._run makes (and the name its errors give).
cdef enum:
    _TRAIN = 0
    _TEST = 1
    _PREDICT = 2
_MODE_NAMES = ("train", "test", "predict")


cdef class Dataset:
    """Arrays bound for a run of batches; checked and converted once (see _core.pyi)."""

    cdef object _x, _y, _sw, _order
    cdef hf_data data
    cdef int _users
    cdef double _label_min, _label_max
    cdef bint _labels_known

    def __init__(self, x, y=None, sample_weight=None, *, bint check_finite=True):
        if self._users:
            raise BusyError("Dataset.__init__: a Network is running batches on this Dataset right now")
        x = _as_float32(x, "x", 2)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ShapeError(f"x must have at least one row and one column; got shape {x.shape}")
        n = x.shape[0]
        if check_finite:
            _check_finite(x, "x")
        if y is not None:
            y = _as_float32(y, "y", 2)
            if y.shape[0] != n:
                raise ShapeError(f"y must have as many rows as x ({n}); got {y.shape[0]}")
            if y.shape[1] == 0:
                raise ShapeError(f"y must have at least one column; got shape {y.shape}")
            if check_finite:
                _check_finite(y, "y")
        if sample_weight is not None:
            sample_weight = _as_float32(sample_weight, "sample_weight", 1)
            if sample_weight.shape[0] != n:
                raise ShapeError(
                    f"sample_weight must have one value per row of x ({n}); got {sample_weight.shape[0]}"
                )
            if check_finite:
                _check_finite(sample_weight, "sample_weight")
        self._x, self._y, self._sw, self._order = x, y, sample_weight, None
        self._users = 0
        # Sparse labels are range-checked per batch against y's bounds (O(1)),
        # found on first use: only sparse crossentropy needs them.
        self._labels_known = False
        self.data.x = _fptr(x)
        self.data.y = _fptr(y) if y is not None else NULL
        self.data.sw = _fptr(sample_weight) if sample_weight is not None else NULL
        self.data.n_rows = <size_t>n
        self.data.x_width = <size_t>x.shape[1]
        self.data.y_width = <size_t>y.shape[1] if y is not None else 0
        self.data.order = NULL
        self.data.n_positions = <size_t>n

    @property
    def n_rows(self):
        return <Py_ssize_t>self.data.n_rows

    @property
    def n_positions(self):
        return <Py_ssize_t>self.data.n_positions

    @property
    def x(self):
        return _read_only(self._x)

    @property
    def y(self):
        return None if self._y is None else _read_only(self._y)

    @property
    def sample_weight(self):
        return None if self._sw is None else _read_only(self._sw)

    @property
    def order(self):
        return None if self._order is None else _read_only(self._order)

    def shuffle(self, seed):
        """Install a fresh random order of all rows, made in C from ``seed``
        (an integer in [0, 2**64)); ``order`` then shows it. Same seed, same
        order, on every platform and in the NumPy twin."""
        if self._users:
            raise BusyError("shuffle: a Network is running batches on this Dataset right now")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**64:
            raise DtypeError(f"seed must be an integer in [0, 2**64); got {seed!r}")
        cdef uint64_t s = <uint64_t>int(seed)
        own = np.empty(self.data.n_rows, dtype=np.int64)
        cdef int64_t *p = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>own)
        cdef size_t n = self.data.n_rows
        with nogil:
            hf_permutation(p, n, s)
        self._order = own
        self.data.order = p
        self.data.n_positions = n

    def set_order(self, order):
        """Rows are visited as x[order[p]] for position p; None = identity."""
        if self._users:
            raise BusyError("set_order: a Network is running batches on this Dataset right now")
        if order is None:
            self._order = None
            self.data.order = NULL
            self.data.n_positions = self.data.n_rows
            return
        arr = np.asarray(order)
        if arr.dtype.kind not in "iu":
            raise DtypeError(f"order must be an array of integers; got dtype {arr.dtype}")
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise ShapeError(f"order must be a non-empty 1-D array; got shape {arr.shape}")
        # Our own copy: the C code trusts these values, so nobody may change them.
        own = np.array(arr, dtype=np.int64, order="C", copy=True)
        # One pass over the copy (NumPy's min and max would be two more, and
        # this runs once per epoch of a shuffled fit).
        cdef const int64_t *p = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>own)
        cdef Py_ssize_t i, m = own.shape[0]
        cdef int64_t limit = <int64_t>self.data.n_rows
        for i in range(m):
            if p[i] < 0 or p[i] >= limit:
                raise PositionError(
                    f"order values must be row indices in [0, {self.data.n_rows}); got {p[i]}"
                )
        self._order = own
        self.data.order = <const int64_t *>cnp.PyArray_DATA(<cnp.ndarray>own)
        self.data.n_positions = <size_t>own.shape[0]

    cdef int _check_labels(self, Py_ssize_t k) except -1:
        if not self._labels_known:
            self._label_min, self._label_max = float(self._y.min()), float(self._y.max())
            self._labels_known = True
        if not (self._label_min >= 0.0 and self._label_max < <double>k):
            bad = self._label_min if self._label_min < 0.0 else self._label_max
            raise LabelError(
                f"y holds sparse class labels, which must lie in [0, {k}) for {k} outputs; got {bad:g}"
            )
        return 0


# ---------------------------------------------------------------- Network

cdef class Network:
    """A Sequential stack of Dense layers with its parameters, optimizer
    slots, metric accumulators and workspace (see _core.pyi)."""

    cdef hf_network net
    cdef object _dims, _acts, _w_off, _b_off, _metrics
    cdef object _params, _grads, _slots, _mstate, _ws
    cdef size_t _ws_floats
    cdef bint _busy, _configured, _sparse
    cdef int _loss

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
        if value < 0:
            raise PositionError(f"iterations must be >= 0; got {value}")
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
        if start < 0 or count < 1 or start + count > <Py_ssize_t>data.data.n_positions:
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

    def train_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, double lr):
        """One step on positions [start, start + count), GIL released."""
        self._run_train(data, start, count, count, lr)

    def train_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                      Py_ssize_t batch_size, double lr):
        """ceil(count / batch_size) consecutive steps in one native call."""
        self._run_train(data, start, count, batch_size, lr)

    cdef int _run_train(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, double lr) except -1:
        self._check_run(data, start, count, batch_size, True)
        cdef float lrf = <float>lr
        if not isfinite(lrf):
            raise NonFiniteError(f"lr must be a finite float32 number; got {lr!r}")
        return self._run(_TRAIN, data, start, count, batch_size, lrf, NULL)

    def test_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count):
        """Forward, loss and metric accumulation on positions [start, start + count)."""
        self._run_test(data, start, count, count)

    def test_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                     Py_ssize_t batch_size):
        self._run_test(data, start, count, batch_size)

    cdef int _run_test(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                       Py_ssize_t batch_size) except -1:
        self._check_run(data, start, count, batch_size, True)
        return self._run(_TEST, data, start, count, batch_size, 0.0, NULL)

    def predict_batch(self, Dataset data, Py_ssize_t start, Py_ssize_t count, out):
        """Forward into out[start:start + count]."""
        self._run_predict(data, start, count, count, out)

    def predict_batches(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
                        Py_ssize_t batch_size, out):
        self._run_predict(data, start, count, batch_size, out)

    cdef int _run_predict(self, Dataset data, Py_ssize_t start, Py_ssize_t count,
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
        return self._run(_PREDICT, data, start, count, batch_size, 0.0,
                         <float *>cnp.PyArray_DATA(o))

    cdef int _run(self, int mode, Dataset data, Py_ssize_t start, Py_ssize_t count,
                  Py_ssize_t batch_size, float lr, float *out) except -1:
        """The checked run of batches, with the GIL released; the busy marks
        make a concurrent call on this network or a change of the data raise."""
        cdef float *ws = self._workspace(<size_t>min(batch_size, count))
        cdef hf_status st
        self._busy = True
        data._users += 1
        try:
            with nogil:
                if mode == _TRAIN:
                    st = hf_train_steps(&self.net, &data.data, <size_t>start, <size_t>count,
                                        <size_t>batch_size, lr, ws)
                elif mode == _TEST:
                    st = hf_test_steps(&self.net, &data.data, <size_t>start, <size_t>count,
                                       <size_t>batch_size, ws)
                else:
                    st = hf_predict_steps(&self.net, &data.data, <size_t>start, <size_t>count,
                                          <size_t>batch_size, out, ws)
        finally:
            self._busy = False
            data._users -= 1
        if st != HF_OK:
            _raise(st, _MODE_NAMES[mode])
        return 0


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
