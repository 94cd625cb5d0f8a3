# Included by _core.pyx: the Dataset (arrays bound for a run of batches).

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
    cdef bint _labels_known, _ready

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
        self._ready = True

    cdef int _check_ready(self) except -1:
        if not self._ready:
            raise StateError("this Dataset is not initialised; make it with Dataset(x, y, sample_weight)")
        return 0

    @property
    def n_rows(self):
        self._check_ready()
        return <Py_ssize_t>self.data.n_rows

    @property
    def n_positions(self):
        self._check_ready()
        return <Py_ssize_t>self.data.n_positions

    @property
    def x(self):
        self._check_ready()
        return _read_only(self._x)

    @property
    def y(self):
        self._check_ready()
        return None if self._y is None else _read_only(self._y)

    @property
    def sample_weight(self):
        self._check_ready()
        return None if self._sw is None else _read_only(self._sw)

    @property
    def order(self):
        self._check_ready()
        return None if self._order is None else _read_only(self._order)

    def shuffle(self, seed):
        """Install a fresh random order of all rows, made in C from ``seed``
        (an integer in [0, 2**64)); ``order`` then shows it. Same seed, same
        order, on every platform and in the NumPy twin."""
        self._check_ready()
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
        self._check_ready()
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
