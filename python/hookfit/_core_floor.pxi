# Included by _core.pyx: measuring sticks for benchmarks/ (the honest floors).


def _read_floats(x):
    """Read every float of the C-contiguous float32 array ``x`` once (the
    least a step over those rows can do); returns their sum."""
    if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.c_contiguous):
        raise DtypeError("x must be a C-contiguous float32 numpy array")
    cdef const float *p = <const float *>cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef size_t n = <size_t>x.size
    cdef double total
    with nogil:
        total = hf_read_floats(p, n)
    return total


def _gemm(a, b, out, bint trans_a=False, bint trans_b=False):
    """out = op(a) @ op(b) through the core's own product (its BLAS, its
    blocks on the thread pool): the products of a step, and nothing else."""
    for name, arr in (("a", a), ("b", b), ("out", out)):
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.ndim == 2
                and arr.flags.c_contiguous):
            raise DtypeError(f"{name} must be a 2-D C-contiguous float32 numpy array")
    m, k = (a.shape[1], a.shape[0]) if trans_a else (a.shape[0], a.shape[1])
    kb, n = (b.shape[1], b.shape[0]) if trans_b else (b.shape[0], b.shape[1])
    if k != kb or out.shape != (m, n) or min(m, n, k) < 1 or max(m, n, k) > _BLAS_INT_MAX:
        raise ShapeError(f"cannot multiply {a.shape}{'ᵀ' if trans_a else ''} by "
                         f"{b.shape}{'ᵀ' if trans_b else ''} into {out.shape}")
    cdef const float *pa = <const float *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef const float *pb = <const float *>cnp.PyArray_DATA(<cnp.ndarray>b)
    cdef float *pc = <float *>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef size_t cm = m, cn = n, ck = k, lda = a.shape[1], ldb = b.shape[1], ldc = n
    cdef int ta = trans_a, tb = trans_b
    with nogil:
        hf_gemm(&_BLAS, ta, tb, cm, cn, ck, 1.0, pa, lda, pb, ldb, 0.0, pc, ldc)
    return out
