"""Atomic writes: the target is replaced whole or not at all."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hookfit.saving import atomic_write, atomic_write_bytes, atomic_write_text
from hookfit.utils.atomic import UnwritableDirectoryError, check_can_write, ensure_writable_directory
from hookfit.saving.state_codec import load_state, save_state


def test_atomic_write_replaces_content(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temp file left


def test_exception_inside_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old\r\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_text_keeps_crlf_exactly(tmp_path):
    target = tmp_path / "log.csv"
    atomic_write_text(target, "a,b\r\n1,2\r\n")
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"


def test_creates_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "f.bin"
    atomic_write_bytes(target, b"x")
    assert target.read_bytes() == b"x"


def test_read_mode_rejected(tmp_path):
    with pytest.raises(ValueError, match="write mode"):
        with atomic_write(tmp_path / "f", "r"):
            pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_unwritable_directory_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UnwritableDirectoryError, match="not writable"):
            atomic_write_bytes(locked / "f.bin", b"x")
        with pytest.raises(UnwritableDirectoryError):
            check_can_write(locked / "sub" / "f.bin")
    finally:
        locked.chmod(0o700)


def test_parent_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UnwritableDirectoryError, match="not a directory|is a file") as info:
        check_can_write(blocker / "sub" / "w.npz")
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnwritableDirectoryError):
        ensure_writable_directory(blocker / "w.npz")
    with pytest.raises(UnwritableDirectoryError):
        atomic_write_bytes(blocker / "w.npz", b"x")


def test_path_that_is_a_directory_rejected(tmp_path):
    with pytest.raises(UnwritableDirectoryError, match="existing directory"):
        check_can_write(tmp_path)
    check_can_write(tmp_path, directory=True)  # fine as a directory


_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from hookfit.saving.state_codec import save_state
    path = sys.argv[1]
    big = np.arange(6_000_000, dtype=np.float32)  # 24 MB per save
    i = 0
    while True:
        i += 1
        save_state(path, {"i": i, "data": big + i})
        print(i, flush=True)
    """
)


@pytest.mark.slow
def test_kill_during_save_keeps_previous_file_intact(tmp_path):
    """SIGKILL a process that saves a big file in a loop: whatever moment
    the kill lands, the file on disk is one complete earlier save."""
    target = tmp_path / "state.npz"
    for delay in (0.0, 0.13, 0.29):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(target)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            first = proc.stdout.readline()  # at least one complete save exists
            assert first.strip(), "writer did not start"
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        state = load_state(target)
        assert state["i"] >= 1
        np.testing.assert_array_equal(
            state["data"], np.arange(6_000_000, dtype=np.float32) + state["i"]
        )


def test_state_codec_round_trip_keeps_types_and_bits(tmp_path):
    state = {
        "lr": [np.float32(0.001), np.float32(0.0001)],
        "loss": [0.1234567891234, float("nan"), float("inf")],
        "t": (1, "a", None, True),
        3: {"nested": np.arange(3, dtype=np.int64)},
        "rng": np.random.default_rng(1).bit_generator.state,
    }
    path = tmp_path / "s.npz"
    save_state(path, state)
    back = load_state(path)
    assert type(back["lr"][0]) is np.float32 and back["lr"][0] == np.float32(0.001)
    assert back["loss"][0] == 0.1234567891234 and np.isnan(back["loss"][1])
    assert back["loss"][2] == float("inf")
    assert back["t"] == (1, "a", None, True)
    np.testing.assert_array_equal(back[3]["nested"], np.arange(3))
    assert back["rng"] == state["rng"]


def test_state_codec_rejects_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot be saved"):
        save_state(tmp_path / "s.npz", {"f": object()})


_HALF_WRITER = textwrap.dedent(
    """
    import sys, time
    from hookfit.saving import atomic_write
    path = sys.argv[1]
    for version in (1, 2):
        with atomic_write(path, "wb") as f:
            f.write(bytes([version]) * 4_000_000)
            f.flush()
            if version == 2:
                print("half", flush=True)  # the parent kills us now
                time.sleep(60)
            f.write(bytes([version]) * 4_000_000)
        print("saved", version, flush=True)
    """
)


@pytest.mark.slow
def test_kill_exactly_mid_write_keeps_previous_file(tmp_path):
    target = tmp_path / "weights.bin"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HALF_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().split() == ["saved", "1"]
        assert proc.stdout.readline().strip() == "half"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert target.read_bytes() == b"\x01" * 8_000_000
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "weights.bin"]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # the torn write went there


def test_written_files_get_the_usual_permissions(tmp_path):
    """A new file gets 0o666 less the umask, as open() gives (not mkstemp's
    private 0600); a replaced file keeps its mode."""
    from hookfit.utils.atomic import atomic_write_bytes

    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.bin"
        atomic_write_bytes(new, b"a")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        atomic_write_bytes(kept, b"new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640
        assert kept.read_bytes() == b"new"
    finally:
        os.umask(umask)


def test_a_symbolic_link_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    dangling = tmp_path / "later.bin"
    dangling.symlink_to(tmp_path / "sub" / "file.bin")  # its directory does not exist yet
    atomic_write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "sub" / "file.bin").read_text() == "made"
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []


def test_a_relative_name_is_written_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_write_bytes("f.bin", b"here")
    with atomic_write("g.txt", "w") as f:
        f.write("text")
    assert (tmp_path / "f.bin").read_bytes() == b"here"
    assert (tmp_path / "g.txt").read_text() == "text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin", "g.txt"]
