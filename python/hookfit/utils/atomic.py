"""Atomic file writing: every file hookfit writes goes through here.

A file is written to a temporary file in the same directory, flushed and
fsync'ed, then renamed over the target with ``os.replace`` (atomic on POSIX
and Windows), and the directory is fsync'ed so that the rename itself
survives a power cut. A crash or kill at any point leaves either the old
file or the new one, never a torn mix. Temporary files start with ``.`` and
end with ``.tmp``; a killed writer may leave one behind, never the target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile


class UnwritableDirectoryError(PermissionError, ValueError):
    """The directory for a file that hookfit must write cannot be written."""


def _fsync_directory(directory: str) -> None:
    # Makes the rename durable; not available (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_writable_directory(path, *, what: str = "file", probe: bool = True) -> str:
    """Create the parent directory of ``path`` if needed and check that it is
    writable; return it. Raises ``UnwritableDirectoryError`` saying which
    directory and why, so a run can fail before training starts."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    try:
        if not os.path.isdir(directory):  # one stat when it exists (every checkpoint save)
            os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise UnwritableDirectoryError(
            f"Cannot create the directory {directory!r} for the {what} {path!r}: "
            f"{e.strerror or e}. Choose a path in a writable directory."
        ) from e
    if not os.path.isdir(directory):
        raise UnwritableDirectoryError(
            f"{directory!r} is not a directory, so the {what} {path!r} cannot be written."
        )
    if not probe:
        return directory
    _probe_writable(directory, what, path)
    return directory


def _probe_writable(directory, what, path) -> None:
    """Create and remove a file in ``directory`` (os.access is unreliable for
    root and network file systems: really try)."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".hookfit-probe-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UnwritableDirectoryError(
            f"Cannot write the {what} {path!r}: the directory {directory!r} is not writable "
            f"({e.strerror or e}). Choose a writable directory."
        ) from e


def _write_target(path) -> tuple[str, int | None]:
    """Where ``open(path, "w")`` would write, and the mode of the file there
    (None when there is none). Only a symbolic link as the last component
    needs resolving: a temporary file made in ``dirname(path)`` (symbolic
    links in the parents included, resolved by the kernel as the rename's
    are) is already in the target's directory, so the rename never crosses
    file systems. One ``lstat`` in the usual case."""
    path = os.fspath(path)
    try:
        st = os.lstat(path)
    except OSError:  # missing (the open below says why, if it must)
        return path, None
    if stat.S_ISLNK(st.st_mode):
        path = os.path.realpath(path)
        try:
            st = os.stat(path)
        except OSError:  # a link to a file not written yet
            return path, None
    return path, stat.S_IMODE(st.st_mode)


# A file name may be at most 255 bytes on common file systems; the temporary
# name keeps a prefix of the target's so that a long (legal) target name never
# makes the temporary name illegal.
_TMP_STEM_BYTES = 100


def _temporary_name(path: str) -> str:
    """A fresh ``.<stem>.<random>.tmp`` name in the directory of ``path``."""
    stem = os.fsencode(os.path.basename(path))[:_TMP_STEM_BYTES]
    token = os.urandom(6).hex()
    return os.path.join(
        os.path.dirname(path), "." + os.fsdecode(stem) + "." + token + ".tmp"
    )


def _check_name_length(path: str, directory: str) -> None:
    name = os.path.basename(path)
    try:
        limit = os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    if len(os.fsencode(name)) > limit:
        raise OSError(
            errno.ENAMETOOLONG,
            f"Cannot write {path!r}: the file name is {len(os.fsencode(name))} bytes long, more "
            f"than the {limit} bytes this file system allows. Choose a shorter name.",
        )


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _open_temporary(tmp: str, target: str, shown: str, directory: str, mode) -> int:
    """Create ``tmp`` (exclusively) and return its descriptor. A new file is
    created with 0o666 less the umask, as ``open`` gives; a replacement keeps
    the mode of the file it replaces. A missing directory is created."""
    for attempt in (0, 1):
        try:
            fd = os.open(tmp, _CREATE, 0o666 if mode is None else 0o600)
            break
        except (FileNotFoundError, NotADirectoryError):
            if attempt:
                raise
            # Create the parents, or say clearly why they cannot be.
            ensure_writable_directory(target, probe=False)
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise
            raise UnwritableDirectoryError(
                f"Cannot write {shown!r}: the directory {directory!r} is not writable "
                f"({e.strerror or e}). Choose a writable directory."
            ) from e
    if mode is not None:
        try:
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
    return fd


@contextlib.contextmanager
def _temporary_file(path):
    """Yield ``(tmp, fd)``: a new temporary file next to ``path``'s target,
    open for writing; on a clean exit (the caller closed ``fd``), rename it
    over the target and fsync the directory. Any exception, including
    ``KeyboardInterrupt``, removes the temporary file and leaves ``path``
    untouched."""
    shown = os.fspath(path)
    target, mode = _write_target(path)
    directory = os.path.dirname(target) or "."
    # The name is chosen before the file exists, so that an interrupt at any
    # point after this line finds it in the cleanup below.
    tmp = _temporary_name(target)
    try:
        fd = _open_temporary(tmp, target, shown, directory, mode)
        yield tmp, fd
        try:
            os.replace(tmp, target)
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                _check_name_length(target, directory)  # says which limit, if it can
            raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


@contextlib.contextmanager
def _write_errors_named(path):
    """A failed write (disk full, file too large: an OSError naming no file)
    raised again as an OSError naming ``path``."""
    try:
        yield
    except OSError as e:
        if e.filename is not None or e.errno is None:
            raise
        raise OSError(
            e.errno,
            f"Could not write {os.fspath(path)!r}: {e.strerror}. The previous file, if any, "
            "is unchanged.",
        ) from e


@contextlib.contextmanager
def atomic_path(path, *, sync: bool = True):
    """Yield a temporary path next to ``path``'s real target; on a clean exit,
    move it into place atomically. For writers that want a file name;
    ``sync=False`` when the writer fsynced the file itself.

    Any exception, ``KeyboardInterrupt`` included, removes the temporary file
    and leaves ``path`` untouched.

    >>> with atomic_path("weights.npz") as tmp:  # doctest: +SKIP
    ...     write_file(tmp)
    """
    with _temporary_file(path) as (tmp, fd):
        os.close(fd)
        yield tmp
        if sync:
            # The writer closed its file; make its bytes durable before the rename.
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Open a temporary file next to ``path`` for writing; on a clean exit,
    flush, fsync and move it into place atomically. On an exception the
    temporary file is removed and ``path`` is untouched; a failed write
    (disk full, file too large) is an ``OSError`` naming ``path``.

    >>> with atomic_write("log.csv", "w", newline="") as f:  # doctest: +SKIP
    ...     f.write("epoch,loss\\r\\n")
    """
    if not any(c in mode for c in "wx"):
        raise ValueError(f"atomic_write needs a write mode ('w', 'wb', ...), got {mode!r}.")
    with _temporary_file(path) as (_, fd):
        try:
            f = open(fd, mode, **open_kwargs)
        except BaseException:
            os.close(fd)
            raise
        with _write_errors_named(path), f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def atomic_write_bytes(path, data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` to ``path`` atomically: straight through the temporary
    file's descriptor (checkpoints call this every few batches)."""
    with _temporary_file(path) as (_, fd), _write_errors_named(path):
        try:
            view = memoryview(data).cast("B")
            while view:
                written = os.write(fd, view)
                if written <= 0:  # never loop on a file that takes nothing
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path, text: str, *, newline: str | None = "") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; ``newline=""`` keeps
    line endings exactly as given."""
    with atomic_write(path, "w", encoding="utf-8", newline=newline) as f:
        f.write(text)


def check_can_write(path, *, what: str = "file", directory: bool = False) -> None:
    """Check, without creating anything, that the file (or, with
    ``directory=True``, the directory) ``path`` could be written: its nearest
    existing ancestor must be a writable directory, and a file path must not
    be an existing directory. Raises ``UnwritableDirectoryError``; meant to
    fail fast before training starts."""
    path = os.path.abspath(os.fspath(path))
    if not directory and os.path.isdir(path):
        raise UnwritableDirectoryError(
            f"The {what} {path!r} is an existing directory; give a file path instead."
        )
    ancestor = path if directory else os.path.dirname(path)
    while not os.path.exists(ancestor):
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            break
        ancestor = parent
    if not os.path.isdir(ancestor):
        raise UnwritableDirectoryError(
            f"Cannot write the {what} {path!r}: {ancestor!r} is a file, not a directory."
        )
    _probe_writable(ancestor, what, path)
