"""Saving when the disk says no (issue 9): a full disk or a file-size limit
is a clean OSError with the previous file intact and no temporary file left;
Ctrl-C during a save leaves no temporary file; symlinked parents on another
file system and long (legal) names save correctly."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hookfit
from hookfit.utils import atomic
from hookfit.utils.atomic import atomic_write_bytes

pytest.importorskip("h5py", reason="h5py (extra 'h5') is needed for HDF5 files")

SUFFIXES = [("save_weights", "w.weights.h5"), ("save_weights", "w.h5"), ("save_weights", "w.npz"),
            ("save", "m.keras"), ("save", "m.h5"), ("save", "m.npz")]

_SAVE_OVER_LIMIT = textwrap.dedent(
    """
    import os, resource, signal, sys
    import hookfit
    method, path = sys.argv[1], sys.argv[2]
    small = hookfit.Sequential([hookfit.layers.Dense(20, input_dim=30)])
    small.compile(optimizer="adam", loss="mse")
    getattr(small, method)(path)
    before = open(path, "rb").read()
    big = hookfit.Sequential([hookfit.layers.Dense(2000, input_dim=300)])
    big.compile(optimizer="adam", loss="mse")
    # Writes past the limit fail with EFBIG (as ENOSPC on a full disk) once
    # SIGXFSZ is ignored; no root needed.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = len(before) + 64 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        getattr(big, method)(path)
    except OSError as e:
        assert path in str(e) and "previous file" in str(e), e
        print("OSError")
    assert open(path, "rb").read() == before, "the previous file changed"
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
    assert not leftovers, leftovers
    print("intact")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics are Linux's")
@pytest.mark.parametrize("method,name", SUFFIXES)
def test_file_size_limit_is_a_clean_oserror(tmp_path, method, name):
    result = subprocess.run(
        [sys.executable, "-c", _SAVE_OVER_LIMIT, method, str(tmp_path / name)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["OSError", "intact"]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 1 MiB tmpfs (needs root, as in CI); skipped where mounting fails."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("method,name", SUFFIXES)
def test_full_disk_is_a_clean_oserror(tiny_tmpfs, method, name):
    small = hookfit.Sequential([hookfit.layers.Dense(20, input_dim=30)])
    small.compile(optimizer="adam", loss="mse")
    path = tiny_tmpfs / name
    getattr(small, method)(path)
    before = path.read_bytes()
    big = hookfit.Sequential([hookfit.layers.Dense(1000, input_dim=300)])  # 1.2 MB of weights
    big.compile(optimizer="adam", loss="mse")
    with pytest.raises(OSError, match="previous file"):
        getattr(big, method)(path)
    assert path.read_bytes() == before
    assert [p.name for p in tiny_tmpfs.iterdir()] == [name]


@pytest.mark.parametrize("victim", ["fchmod", "close", "fsync", "replace"])
def test_ctrl_c_during_a_save_leaves_no_temporary_file(tmp_path, monkeypatch, victim):
    target = tmp_path / "w.npz"
    atomic_write_bytes(target, b"old")
    real = getattr(os, victim)
    calls = []

    def interrupted(*args, **kwargs):
        if not calls:
            calls.append(1)
            if victim == "close":  # close really, then raise: the worst moment
                real(*args, **kwargs)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(os, victim, interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert calls, f"os.{victim} was never called"
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_parent_symlinked_to_another_file_system(tmp_path):
    other_root = "/dev/shm"
    if not os.path.isdir(other_root) or os.stat(other_root).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another file system than the test directory")
    import tempfile

    with tempfile.TemporaryDirectory(dir=other_root) as elsewhere:
        os.makedirs(os.path.join(elsewhere, "inner"))
        (tmp_path / "link").symlink_to(os.path.join(elsewhere, "inner"))
        # The kernel resolves "link/.." to `elsewhere`, on the other file system;
        # a temporary file made next to the textual path would cross devices.
        path = str(tmp_path / "link" / ".." / "w.npz")
        model = hookfit.Sequential([hookfit.layers.Dense(2, input_dim=3)])
        model.save_weights(path)
        assert os.path.exists(os.path.join(elsewhere, "w.npz"))
        assert not (tmp_path / "w.npz").exists()
        again = hookfit.Sequential([hookfit.layers.Dense(2, input_dim=3)])
        again.load_weights(path)
        np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
        assert [n for n in os.listdir(elsewhere) if n.endswith(".tmp")] == []


def test_long_legal_file_name_saves(tmp_path):
    name = "w" * (242 - len(".weights.h5")) + ".weights.h5"
    assert len(name) == 242
    model = hookfit.Sequential([hookfit.layers.Dense(2, input_dim=3)])
    model.save_weights(tmp_path / name)
    assert (tmp_path / name).exists()
    atomic_write_bytes(tmp_path / ("x" * 255), b"ok")  # the longest legal name
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_too_long_file_name_is_reported_as_such(tmp_path):
    with pytest.raises(OSError, match="file name is 256 bytes long") as info:
        atomic_write_bytes(tmp_path / ("x" * 256), b"no")
    assert not isinstance(info.value, atomic.UnwritableDirectoryError)
