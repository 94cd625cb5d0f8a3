"""Running a small program on 2 MPI ranks from a test: ``mpiexec -n 2`` in a
subprocess with a hard timeout (a hang fails the test, never the suite)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# tests/problem_targets.py: valid targets per loss (shared with tests/core).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TIMEOUT = 300  # seconds for one whole job, start-up included (CI machines are loaded)


def mpiexec() -> list:
    """The mpiexec command next to this Python (the mpich wheel's) or on PATH,
    with the flags Open MPI needs as root and for more ranks than cores;
    skips the test when mpi4py or mpiexec is missing."""
    pytest.importorskip("mpi4py", reason="mpi4py (extra 'mpi') is needed for the MPI tests")
    here = Path(sys.executable).parent / "mpiexec"
    exe = str(here) if here.exists() else shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec: install an MPI (pip install mpich) for the MPI tests")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    cmd = [exe]
    if "Open MPI" in version.stdout + version.stderr or "OpenRTE" in version.stdout:
        cmd += ["--oversubscribe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd += ["--allow-run-as-root"]
    return cmd


def clean_env() -> dict:
    """This environment without a surrounding launcher's variables (a test run
    under mpiexec itself must still start its own job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI_", "PMIX_", "HYDRA_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("HOOKFIT_NUM_THREADS", "1")  # 2 ranks on 2 cores: one thread each
    return env


def run_ranks(args: list, n: int = 2, timeout: float = TIMEOUT, cwd=None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """``mpiexec -n n <python> args...`` (``env``: variables to add); fails
    the test on a timeout."""
    cmd = mpiexec() + ["-n", str(n), sys.executable, *args]
    # A session of its own, so that a hung job is killed whole (the launcher
    # and every rank), not only mpiexec.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**clean_env(), **(env or {})},
        cwd=cwd, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (a hang):\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture
def ranks():
    """``ranks(args, n=2)``: run ``python args...`` on n MPI ranks."""
    return run_ranks


@pytest.fixture
def env_without_launcher():
    return clean_env()
