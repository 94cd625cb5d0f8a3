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
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport isfinite
from libc.stdint cimport INT64_MAX, SIZE_MAX, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
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
    StateError,
    WorkspaceError,
)

cnp.import_array()


cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef inline int64_t _now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


# The BLAS table: scipy's OpenBLAS sgemm at import (scikit-learn's route); the
# C code calls it through this pointer and links no BLAS itself. hookfit._blas
# may point it at a newer OpenBLAS once, before any Network exists.
cdef hf_blas _BLAS
_BLAS.sgemm = <hf_sgemm_fn>_scipy_sgemm
_BLAS_NAME = "scipy.linalg.cython_blas"


def blas_name():
    """Which sgemm the matrix products go through."""
    return _BLAS_NAME


def _set_sgemm(size_t address, str name):
    """Route every product to the Fortran-ABI sgemm at ``address`` (called once
    at import by hookfit._blas; ``address`` must stay valid for the process)."""
    global _BLAS_NAME
    if address == 0:
        raise DtypeError("sgemm address must not be NULL")
    _BLAS.sgemm = <hf_sgemm_fn>address
    _BLAS_NAME = name


# Enum values come from the C headers (declared in _core.pxd); the NumPy twin
# and the .pyi take them from here.
ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX = (
    HF_ACT_LINEAR, HF_ACT_RELU, HF_ACT_SIGMOID, HF_ACT_TANH, HF_ACT_SOFTMAX)
ACT_ELU, ACT_SELU, ACT_GELU, ACT_SOFTPLUS, ACT_SOFTSIGN, ACT_SWISH = (
    HF_ACT_ELU, HF_ACT_SELU, HF_ACT_GELU, HF_ACT_SOFTPLUS, HF_ACT_SOFTSIGN, HF_ACT_SWISH)
ACT_SILU = ACT_SWISH
ACT_LEAKY_RELU, ACT_EXPONENTIAL, ACT_HARD_SIGMOID = (
    HF_ACT_LEAKY_RELU, HF_ACT_EXPONENTIAL, HF_ACT_HARD_SIGMOID)
N_ACTIVATIONS = HF_ACT_COUNT
NODE_INPUT, NODE_DENSE, NODE_ACTIVATION, NODE_DROPOUT = (
    HF_NODE_INPUT, HF_NODE_DENSE, HF_NODE_ACTIVATION, HF_NODE_DROPOUT)
NODE_BATCHNORM, NODE_NORMALIZATION, NODE_ADD, NODE_CONCATENATE = (
    HF_NODE_BATCHNORM, HF_NODE_NORMALIZATION, HF_NODE_ADD, HF_NODE_CONCATENATE)
N_NODE_KINDS = HF_NODE_COUNT
LOSS_MSE, LOSS_MAE, LOSS_BCE, LOSS_CCE, LOSS_SCCE = (
    HF_LOSS_MSE, HF_LOSS_MAE, HF_LOSS_BCE, HF_LOSS_CCE, HF_LOSS_SCCE)
METRIC_MSE, METRIC_MAE, METRIC_BCE, METRIC_CCE, METRIC_SCCE = (
    HF_METRIC_MSE, HF_METRIC_MAE, HF_METRIC_BCE, HF_METRIC_CCE, HF_METRIC_SCCE)
METRIC_BINARY_ACCURACY, METRIC_CATEGORICAL_ACCURACY, METRIC_SPARSE_CATEGORICAL_ACCURACY = (
    HF_METRIC_BINARY_ACCURACY, HF_METRIC_CATEGORICAL_ACCURACY,
    HF_METRIC_SPARSE_CATEGORICAL_ACCURACY)
OPT_SGD, OPT_RMSPROP, OPT_ADAM = HF_OPT_SGD, HF_OPT_RMSPROP, HF_OPT_ADAM
OPT_ADAGRAD, OPT_ADAMAX, OPT_ADADELTA, OPT_NADAM, OPT_FTRL, OPT_LION = (
    HF_OPT_ADAGRAD, HF_OPT_ADAMAX, HF_OPT_ADADELTA, HF_OPT_NADAM, HF_OPT_FTRL, HF_OPT_LION)
(LOSS_HUBER, LOSS_LOG_COSH, LOSS_HINGE, LOSS_SQUARED_HINGE, LOSS_CATEGORICAL_HINGE, LOSS_KLD,
 LOSS_POISSON, LOSS_MAPE, LOSS_MSLE, LOSS_COSINE) = (
    HF_LOSS_HUBER, HF_LOSS_LOG_COSH, HF_LOSS_HINGE, HF_LOSS_SQUARED_HINGE,
    HF_LOSS_CATEGORICAL_HINGE, HF_LOSS_KLD, HF_LOSS_POISSON, HF_LOSS_MAPE, HF_LOSS_MSLE,
    HF_LOSS_COSINE)
(METRIC_TOP_K_CATEGORICAL_ACCURACY, METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY,
 METRIC_ROOT_MEAN_SQUARED_ERROR, METRIC_LOSS, METRIC_COSINE_SIMILARITY, METRIC_TRUE_POSITIVES,
 METRIC_FALSE_POSITIVES, METRIC_TRUE_NEGATIVES, METRIC_FALSE_NEGATIVES, METRIC_PRECISION,
 METRIC_RECALL, METRIC_AUC, METRIC_PRECISION_AT_RECALL, METRIC_RECALL_AT_PRECISION,
 METRIC_R2_SCORE) = (
    HF_METRIC_TOP_K_CATEGORICAL_ACCURACY, HF_METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY,
    HF_METRIC_ROOT_MEAN_SQUARED_ERROR, HF_METRIC_LOSS, HF_METRIC_COSINE_SIMILARITY,
    HF_METRIC_TRUE_POSITIVES, HF_METRIC_FALSE_POSITIVES, HF_METRIC_TRUE_NEGATIVES,
    HF_METRIC_FALSE_NEGATIVES, HF_METRIC_PRECISION, HF_METRIC_RECALL, HF_METRIC_AUC,
    HF_METRIC_PRECISION_AT_RECALL, HF_METRIC_RECALL_AT_PRECISION, HF_METRIC_R2_SCORE)
N_LOSS_KINDS, N_METRIC_KINDS = HF_LOSS_N_KINDS, HF_METRIC_N_KINDS

_SPARSE_METRICS = (METRIC_SCCE, METRIC_SPARSE_CATEGORICAL_ACCURACY)  # labels read as indices
_N_SLOTS = {k: <Py_ssize_t>hf_opt_kind_slots(k) for k in range(HF_OPT_N_KINDS)}
REDUCE_SUM_OVER_BATCH_SIZE, REDUCE_SUM = HF_REDUCE_SUM_OVER_BATCH_SIZE, HF_REDUCE_SUM
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


include "_core_dataset.pxi"
include "_core_progbar.pxi"
include "_core_network.pxi"
include "_core_kernels.pxi"
include "_core_numerics.pxi"
include "_core_threads.pxi"
include "_core_floor.pxi"
include "_core_crc32c.pxi"
include "_core_events.pxi"
include "_core_hook_times.pxi"
