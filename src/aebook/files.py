"""Writing files so that no reader ever sees half of one, and a failed write says why in one line.

Every file the package writes (a cached model, a t-SNE map, a notebook, a page of the site,
BENCHMARKS.md) goes through ``write_atomic``: the bytes go into a hidden temporary file in
the same folder, are flushed to the disk, and only then is that file renamed onto the final
name, which the operating system does in one step. So a full disk, a read-only folder, Ctrl-C
or ``kill -9`` in the middle leaves either the old file or the new one, never a cut one.

Objects are serialised in memory first (``torch_bytes``, ``npy_bytes``), so the disk only ever
sees plain ``os.write`` calls: a full disk is then an ``OSError`` with its errno (``ENOSPC``),
not an error from inside a library's file format code, and it becomes a ``SaveError`` whose
message is one plain line. Caches, which are an aid and not a must, use ``try_save``: they say
that line and go on.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

try:
    import fcntl  # POSIX: a lock tells a live writer's temporary file from a dead one's
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CHUNK = 1 << 20      # bytes per os.write call
STALE_AFTER = 3600   # without fcntl: seconds after which a leftover temporary file counts as abandoned

write_chunk = os.write  # the one call that puts bytes on disk (tests replace it to fill the disk)

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "the folder is on a read-only filesystem",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EDQUOT: "over the disk quota",
    errno.EFBIG: "the file is larger than this filesystem or process allows",
    errno.ENOTDIR: "a file stands where a folder should be",
}


class SaveError(OSError):
    """A file that could not be written. ``str()`` is one plain line: what was not saved, and why.

    It is an ``OSError`` with the original errno, so ``except OSError`` still catches it;
    ``cause`` is the reason in words ("the disk is full") and ``detail`` any figure that goes
    with it ("300 KB to write, 12 KB free"), or "".
    """

    def __init__(self, err: int | None, cause: str, filename: str, what: str = "", detail: str = ""):
        super().__init__(err, cause, filename)
        self.cause, self.detail, self.what = cause, detail, what or filename

    @property
    def reason(self) -> str:
        """The cause with its detail: "the disk is full (300 KB to write, 12 KB free)"."""
        return f"{self.cause} ({self.detail})" if self.detail else self.cause

    def __str__(self) -> str:
        return f"could not write {self.what}: {self.reason}"

    def __reduce__(self):  # so it survives pickling (multiprocessing, pytest-xdist) with its words
        return (SaveError, (self.errno, self.cause, self.filename, self.what, self.detail))


def save_error(path: Path, exc: OSError, what: str = "", size: int | None = None) -> SaveError:
    """The ``SaveError`` for ``exc`` raised while writing ``size`` bytes to ``path``: the errno in words,
    and for a full disk how much was to be written and how much is free (once our own partial file is gone)."""
    if isinstance(exc, SaveError):
        return exc
    cause = _REASONS.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__).lower())
    detail = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            detail = f"{human_bytes(shutil.disk_usage(_existing(path)).free)} free"
        except OSError:
            pass
        if size is not None and detail:
            detail = f"{human_bytes(size)} to write, {detail}"
    return SaveError(exc.errno, cause, str(path), what or str(path), detail)


def write_atomic(path: str | os.PathLike, payload: bytes | str, what: str = "") -> None:
    """Write ``payload`` (text as UTF-8) to ``path`` atomically: the old file or the new one, never half.

    The bytes go to ``.{stem}-XXXX.tmp`` in the same folder, are fsync'ed, then renamed onto
    ``path``. On any failure, Ctrl-C included, the temporary file is removed and the error goes
    on: an ``OSError`` as a ``SaveError`` naming ``what`` (default: the path), anything else as it
    was. After a successful save, the leftovers of earlier saves of ``path`` that were killed
    (``kill -9`` leaves its temporary file) are removed.
    """
    path = Path(path)
    data = memoryview(payload.encode("utf-8") if isinstance(payload, str) else payload).cast("B")
    size = len(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _locked_temp(path)
    except OSError as exc:
        raise save_error(path, exc, what, size) from exc
    try:
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes it private; a page or notebook must stay readable
                os.fchmod(fd, _mode_for(path))
            while data:
                written = write_chunk(fd, data[:CHUNK])
                if written <= 0:  # never for a regular file, but a loop must not spin
                    raise OSError(errno.EIO, "the disk accepted no bytes")
                data = data[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise save_error(path, exc, what, size) from exc
        raise
    clear_leftovers(path)


def try_save(path: str | os.PathLike, payload: bytes | str, what: str = "") -> str:
    """``write_atomic`` for a file that is nice to have (a cache): "" when saved, else the one line why not."""
    try:
        write_atomic(path, payload, what)
    except SaveError as exc:
        return str(exc)
    return ""


def torch_bytes(obj: object) -> bytes:
    """``torch.save(obj)`` into memory: the file layer then writes plain bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def npy_bytes(array) -> bytes:
    """``np.save(array)`` (no pickles) into memory: the file layer then writes plain bytes."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def clear_leftovers(path: Path) -> None:
    """Remove ``.{stem}-*.tmp`` files beside ``path`` that no live save is writing.

    A save holds a lock on its temporary file until it is renamed; the system drops the lock
    when the process dies, even by ``kill -9``. So a file we can lock is abandoned, and a file
    we cannot is another process saving right now (two chapters sharing one cache), left alone.
    """
    for stale in Path(path).parent.glob(f".{Path(path).stem}-*.tmp"):
        try:
            if fcntl is None:
                if time.time() - stale.stat().st_mtime > STALE_AFTER:
                    stale.unlink()
                continue
            fd = os.open(stale, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale.unlink()
            finally:
                os.close(fd)
        except OSError:
            pass  # busy, gone already, or not ours to remove: harmless either way


def human_bytes(n: float) -> str:
    """``12 KB``, ``3.4 MB``: a size for a person."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.0f} TB"  # pragma: no cover - the loop always returns


def _locked_temp(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, locked (see ``clear_leftovers``); retried if a cleaner
    removed it in the instant between its creation and the lock."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError:  # a filesystem without locks: the save works, a killed one's leftover stays
                    pass
            if os.fstat(fd).st_nlink:  # still there: no cleaner removed it before we held the lock
                return fd, tmp
        except BaseException:  # Ctrl-C while waiting for the lock: leave nothing behind
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)


def _mode_for(path: Path) -> int:
    """The permissions the file would have had if written directly: the old file's, else by the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent folder (for ``shutil.disk_usage``)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
