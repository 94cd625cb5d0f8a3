"""What the numbers were measured on: CPU, caches, flags, load, versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

# The SIMD flags that decide which kernels run (the full list is long).
_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
          "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8")


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "cpu family", "model", "stepping") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def _lscpu() -> dict:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    keep = ("Vendor ID", "Model name", "Hypervisor vendor", "L1d cache", "L2 cache", "L3 cache",
            "CPU max MHz", "CPU(s)")
    rows = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in rows if k.strip() in keep}


def describe() -> dict:
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu": cpu.get("model name", platform.processor() or "unknown"),
        "cpu_family_model_stepping": "/".join(cpu.get(k, "?") for k in ("cpu family", "model", "stepping")),
        "simd_flags": [f for f in _FLAGS if f in flags],
        "lscpu": _lscpu(),
        "logical_cpus": os.cpu_count(),
        "affinity": affinity,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
    }


def numpy_versions() -> dict:
    import numpy as np

    versions = {"numpy": np.__version__}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        versions["numpy BLAS"] = f"{blas.get('name')} {blas.get('version')}"
    except (KeyError, TypeError, AttributeError, ValueError):  # not a stable API
        versions["numpy BLAS"] = "unknown"
    try:
        import scipy

        versions["scipy"] = scipy.__version__
    except ImportError:
        pass
    try:
        import threadpoolctl

        versions["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return versions


def source_revision(path) -> str:
    """The git commit of the checkout holding ``path``, with "+ changes"
    when files differ from it (what exactly was timed)."""
    try:
        rev = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if rev.returncode != 0:
        return "unknown (not a git checkout)"
    return rev.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def module_file(module) -> str:
    """Where a compiled module was loaded from, and when it was built."""
    import datetime

    path = getattr(module, "__file__", None)
    if not path:
        return "?"
    built = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return f"{os.path.basename(path)} built {built:%Y-%m-%d %H:%M} UTC"
