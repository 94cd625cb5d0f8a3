"""hookfit.config: the threads of hookfit's native work (its pool; the
OpenBLAS inside runs single-threaded), and hookfit._blas: which BLAS that is. Each case runs in a fresh interpreter,
since both are settled at import."""

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import json, os
import numpy as np
import hookfit
from hookfit import _blas, config
from hookfit._native import core
from threadpoolctl import threadpool_info
lib = _blas.library_path
threads = [i["num_threads"] for i in threadpool_info() if lib and i["filepath"] == lib]
rng = np.random.default_rng(0)
net = core.Network(64, [32, 4], [core.ACT_RELU, core.ACT_SOFTMAX], [True, True])
net.params[:] = rng.uniform(-0.2, 0.2, net.n_params)
data = core.Dataset(rng.random((50, 64)))
out = np.empty((50, 4), np.float32)
net.predict_batches(data, 0, 50, 50, out)
from hookfit import _core
print(json.dumps({"name": core.blas_name(), "threads": config.get_num_threads(),
                  "pool": _core.get_threads(), "share": _core.get_pool_share(),
                  "lib_threads": threads, "affinity": len(os.sched_getaffinity(0)),
                  "out": out.tolist()}))
"""


_SETTINGS = ("HOOKFIT_BLAS", "HOOKFIT_NUM_THREADS", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def _probe(**env):
    full = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    full.update(env)
    done = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True,
                          timeout=120, check=False)
    return done


def test_default_is_the_newest_openblas_and_a_pool_thread_per_cpu_of_the_affinity_mask():
    done = _probe()
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["name"].startswith("scipy-openblas32")
    assert info["threads"] == info["pool"] == info["affinity"]
    assert info["lib_threads"] == [1]  # the pool splits the products; OpenBLAS runs inside
    # The default yields CPUs other processes keep busy (where /proc/stat can be read).
    assert info["share"] == (core_can_read_cpu_counters())


@pytest.mark.parametrize("variable", ["MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"])
def test_ranks_an_mpi_launcher_left_unbound_share_the_cpus(variable):
    """2 ranks on this machine (MPICH's or Open MPI's launcher): each takes
    its share of the CPUs, unless the launcher bound it to fewer CPUs than
    the machine has (then its mask is its share already)."""
    info = json.loads(_probe(**{variable: "2"}).stdout)
    unbound = info["affinity"] >= os.cpu_count()
    assert info["threads"] == info["pool"] == (max(1, info["affinity"] // 2) if unbound else info["affinity"])
    assert json.loads(_probe(**{variable: "2"}, HOOKFIT_NUM_THREADS="2").stdout)["threads"] == 2


def core_can_read_cpu_counters() -> bool:
    from hookfit import _core

    return _core._cpu_reading() is not None


def test_the_environment_variable_sets_the_count():
    info = json.loads(_probe(HOOKFIT_NUM_THREADS="3").stdout)
    assert info["threads"] == info["pool"] == 3 and info["lib_threads"] == [1]
    assert info["share"] is False  # a count the user set is used as it is


def test_scipy_blas_can_be_chosen_and_gives_the_same_products():
    new = json.loads(_probe().stdout)
    old_run = _probe(HOOKFIT_BLAS="scipy")
    assert old_run.returncode == 0, old_run.stderr
    old = json.loads(old_run.stdout)
    assert old["name"] == "scipy.linalg.cython_blas"
    assert old["pool"] == 1  # scipy's OpenBLAS threads the products itself
    import numpy as np

    np.testing.assert_allclose(np.array(new["out"]), np.array(old["out"]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("env,expected", [
    ({"HOOKFIT_BLAS": "mkl"}, "HOOKFIT_BLAS='mkl' is not known"),
    ({"HOOKFIT_NUM_THREADS": "two"}, "HOOKFIT_NUM_THREADS='two' must be a positive integer"),
    ({"HOOKFIT_NUM_THREADS": "0"}, "HOOKFIT_NUM_THREADS must be a positive integer"),
])
def test_bad_settings_fail_at_import_with_a_clear_message(env, expected):
    done = _probe(**env)
    assert done.returncode != 0 and expected in done.stderr


def test_set_num_threads_changes_the_library_and_refuses_bad_counts():
    code = PROBE.replace("print(json.dumps(", "config.set_num_threads(3)\nthreads = [i['num_threads'] for i in threadpool_info() if i['filepath'] == lib]\nprint(json.dumps(")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["threads"] == info["pool"] == 3 and info["lib_threads"] == [1]
    assert info["share"] is False
    from hookfit import config

    for bad in (0, -1, 65, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            config.set_num_threads(bad)


_CPUINFO = """processor\t: 0
vendor_id\t: {vendor}
cpu family\t: {family}
model\t\t: 17
flags\t\t: fpu sse2 avx avx2 fma {extra}

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
"""


@pytest.mark.parametrize("vendor, family, extra, zen4", [
    ("AuthenticAMD", 25, "avx512f avx512bw", True),   # Zen 4
    ("AuthenticAMD", 25, "", False),                  # Zen 3: OpenBLAS already picks its Zen kernels
    ("AuthenticAMD", 26, "avx512f", False),           # Zen 5: full-width AVX-512, left to OpenBLAS
    ("GenuineIntel", 6, "avx512f", False),
])
def test_zen4_is_told_from_the_first_processor_of_cpuinfo(tmp_path, vendor, family, extra, zen4):
    from hookfit import _blas

    path = tmp_path / "cpuinfo"
    path.write_text(_CPUINFO.format(vendor=vendor, family=family, extra=extra))
    assert _blas._zen4(str(path)) is zen4
    assert _blas._zen4(str(tmp_path / "missing")) is False


def test_the_openblas_kernels_are_named_and_a_users_coretype_is_kept():
    probe = ("import os, json; from hookfit._native import core; "
             "print(json.dumps([core.blas_name(), os.environ.get('OPENBLAS_CORETYPE')]))")
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS + ("OPENBLAS_CORETYPE",)}
    run = lambda **extra: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, "-c", probe], env={**env, **extra}, capture_output=True, text=True,
        timeout=120, check=True).stdout)
    name, left = run()
    assert name.startswith("scipy-openblas32") and name.endswith(" kernels)")
    assert left is None  # set only while hookfit's OpenBLAS loads, never left for children
    from hookfit import _core

    if "avx2" not in _core.cpu_features():
        return  # forcing the Haswell kernels needs AVX2
    name, left = run(OPENBLAS_CORETYPE="Haswell")
    assert left == "Haswell" and name.endswith("(Haswell kernels)")
