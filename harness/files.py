"""Every file the harness writes goes through here: whole or not at all, never over a file by accident.

* **Atomic.** Bytes go to a temporary file in the target's directory, are flushed to the disk
  (``fsync``, so a full disk or an I/O error shows up before anything is replaced), and the file
  is then moved into place with one rename. A reader sees the previous file or the new one,
  never half of one; a failed or interrupted write leaves the previous file as it was.
* **Nothing left behind.** On Linux the temporary file is unnamed (``O_TMPFILE``): it has no
  directory entry until it is complete, so even a process killed with SIGKILL leaves nothing.
  Elsewhere it is a named file ``.<name>.<12 hex digits>.tmp``; it is removed on an error or an
  exception (``KeyboardInterrupt`` included), and one a killed process left is removed by the next
  write of the same file. A writer holds an ``flock`` on its temporary file for its whole life, so
  a temporary file can be recognised as abandoned (its lock can be taken) without guessing.
* **The user's permissions.** Files are created with mode ``0o666`` and the kernel applies the
  umask (``0o644`` under the usual umask ``022``), as any ordinary program's output.
* **No accidental overwrite.** An existing path, a dangling symlink included
  (:func:`os.path.lexists`), is refused unless ``force``; without ``force`` the file is linked into
  place, which fails if something appeared there meanwhile. With ``force`` a symlink at the path
  is replaced, not followed.
* **One-line errors.** A read-only file system, a directory without write permission, a full disk
  become an :class:`~harness.errors.OutputError` naming the path and the reason::

      reports/summary.md: cannot write: read-only file system (the previous file is unchanged)

>>> write_atomic("reports/summary.md", b"# Summary\\n", force=True)  # doctest: +SKIP
>>> with AtomicWriter("out.ndjson") as out:  # doctest: +SKIP
...     out.write(b'{"type": "transcript_start"}\\n')
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from harness.errors import OutputError, UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, so no removal of abandoned files
    fcntl = None  # type: ignore[assignment]

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_PROC_FD = "/proc/self/fd"
_CHUNK = 1 << 16
# Errors of open(O_TMPFILE) that mean "not supported here", not "cannot write": the named
# temporary file is used instead. A kernel without O_TMPFILE says so once and for all (EISDIR,
# EINVAL); a file system without it (EOPNOTSUPP) only for its own directories.
_NO_TMPFILE = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOTSUP})
_NO_TMPFILE_KERNEL = frozenset({errno.EISDIR, errno.EINVAL})
_TOKEN = re.compile(r"[0-9a-f]{12}")


def lexists(path: Path | str) -> bool:
    """True when anything is at ``path``: a file, a directory, or a symlink, even a dangling one."""
    return os.path.lexists(path)


def refuse_existing(path: Path | str, *, force: bool) -> None:
    """Raise :class:`UsageError` if something is at ``path`` (see :func:`lexists`) and not ``force``."""
    if not force and lexists(path):
        raise UsageError(f"{path} already exists; pass --force to overwrite it")


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def output_error(path: Path | str, exc: OSError, *, action: str = "write") -> OutputError:
    """The one-line error for ``exc`` while writing ``path``: the path, the reason, what is left."""
    left = "the previous file is unchanged" if lexists(path) else "nothing was written"
    return OutputError(f"{path}: cannot {action}: {_reason(exc)} ({left})", path=path, reason=_reason(exc))


def make_dirs(directory: Path | str) -> None:
    """Create ``directory`` and its parents (umask permissions); errors are one-line :class:`OutputError`."""
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{directory}: cannot create the directory: {_reason(exc)}", path=directory, reason=_reason(exc)
        ) from exc


def remove(path: Path | str) -> None:
    """Remove the file at ``path`` if there is one; errors are one-line :class:`OutputError`."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot remove: {_reason(exc)}", path=path, reason=_reason(exc)) from exc


# -- temporary files and their locks ----------------------------------------------------------


def _temporary_name(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")


def _lock(fd: int) -> bool:
    """Take the writer's lock on ``fd``; False only if someone else holds it."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # no locks on this file system: nothing can be recognised as abandoned either
        return True
    return True


def _names(fd: int, path: Path) -> bool:
    """Whether ``path`` is (still) the directory entry of the file open as ``fd``."""
    try:
        here, there = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _is_temporary(name: str, target: str, suffix: str) -> bool:
    head, tail = f".{target}.", suffix
    return name.startswith(head) and name.endswith(tail) and bool(_TOKEN.fullmatch(name[len(head) : -len(tail)]))


def sweep(target: Path | str) -> list[Path]:
    """Remove the temporary files and build directories that dead writers of ``target`` left.

    Only names this module makes (``.<name>.<12 hex digits>.tmp`` or ``.build``) are looked at,
    and one is removed only when its writer's lock can be taken, which the operating system
    releases when the writer exits, however it exits. Returns what was removed.
    """
    if fcntl is None:  # pragma: no cover
        return []
    target = Path(target)
    try:
        names = [
            entry.name
            for entry in os.scandir(target.parent)
            if _is_temporary(entry.name, target.name, ".tmp") or _is_temporary(entry.name, target.name, ".build")
        ]
    except OSError:
        return []
    removed = []
    for name in names:
        path = target.parent / name
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            mode = os.fstat(fd).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it (or locks do not work here: leave it)
            if not _names(fd, path):
                continue
            if stat.S_ISDIR(mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


# Whether to try O_TMPFILE at all: Linux, with /proc mounted (the file is linked in through it).
_tmpfile_works = bool(_O_TMPFILE) and os.path.isdir(_PROC_FD)


def _open_unnamed(directory: Path) -> int | None:
    """An unnamed temporary file in ``directory`` (O_TMPFILE), or None where there is no such thing."""
    global _tmpfile_works
    if not _tmpfile_works:
        return None
    try:
        fd = os.open(directory, _O_TMPFILE | os.O_WRONLY | _O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE_KERNEL:
            _tmpfile_works = False
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    _lock(fd)
    return fd


def _open_named(target: Path) -> tuple[int, Path]:
    """A new named temporary file next to ``target``, created and locked by this writer."""
    while True:
        path = _temporary_name(target, ".tmp")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_NOFOLLOW | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        if _lock(fd) and _names(fd, path):
            return fd, path
        os.close(fd)  # a sweeper took it for abandoned between creation and lock: it removes it


def _link_unnamed(fd: int, path: Path) -> None:
    """Give the unnamed file open as ``fd`` the name ``path`` (fails if ``path`` exists).

    ``linkat(AT_SYMLINK_FOLLOW)`` on ``/proc/self/fd/N``; :func:`os.link` calls plain ``link``
    (which does not follow the magic link) unless it is given a directory descriptor.
    """
    directory = os.open(path.parent, os.O_RDONLY | _O_CLOEXEC | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(f"{_PROC_FD}/{fd}", path.name, dst_dir_fd=directory, follow_symlinks=True)
    finally:
        os.close(directory)


# -- writers ---------------------------------------------------------------------------------


class AtomicWriter:
    """Stream bytes to a new file that appears at ``path``, whole, only on :meth:`commit`.

    The file is created in ``path``'s directory (made if missing) when the writer is made; an
    existing ``path`` (a dangling symlink too) is refused first unless ``force``. :meth:`abort`,
    an exception inside the ``with`` block, a ``KeyboardInterrupt`` or the death of the process
    leave ``path`` as it was and no temporary file behind (see the module docstring). Every
    ``OSError`` becomes a one-line :class:`~harness.errors.OutputError`.

    >>> with AtomicWriter("out.ndjson", force=True) as out:  # doctest: +SKIP
    ...     out.write(b"line\\n")
    """

    def __init__(self, path: Path | str, *, force: bool = False) -> None:
        self.path = Path(path)
        self.force = force
        refuse_existing(self.path, force=force)
        make_dirs(self.path.parent)
        sweep(self.path)
        self._buffer = bytearray()
        self._named: Path | None = None
        self._linked: Path | None = None
        self.closed = False
        try:
            fd = _open_unnamed(self.path.parent)
            if fd is None:
                fd, self._named = _open_named(self.path)
        except OSError as exc:
            raise output_error(self.path, exc) from exc
        self._fd = fd

    def write(self, data: bytes) -> None:
        """Append ``data`` (buffered)."""
        if self.closed:
            raise ValueError(f"{self.path}: the file is already closed")
        if not self._buffer and len(data) >= _CHUNK:
            self._write_all(data)
            return
        self._buffer += data
        if len(self._buffer) >= _CHUNK:
            self._drain()

    def _drain(self) -> None:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        try:
            with memoryview(data) as view:
                done = 0
                while done < len(view):
                    done += os.write(self._fd, view[done:])
        except OSError as exc:
            self.abort()
            raise output_error(self.path, exc) from exc

    def commit(self) -> Path:
        """Flush to the disk and move the file into place; returns ``path``."""
        if self.closed:
            raise ValueError(f"{self.path}: the file is already closed")
        try:
            self._drain()
            os.fsync(self._fd)
            self._place()
        except FileExistsError:
            self.abort()
            raise UsageError(f"{self.path} already exists; pass --force to overwrite it") from None
        except OSError as exc:
            self.abort()
            raise output_error(self.path, exc) from exc
        except BaseException:
            self.abort()
            raise
        self._close()
        return self.path

    def _place(self) -> None:
        if self._named is None:
            if not self.force:
                _link_unnamed(self._fd, self.path)  # fails if anything is there: never clobbers
                return
            while self._linked is None:
                candidate = _temporary_name(self.path, ".tmp")
                try:
                    _link_unnamed(self._fd, candidate)
                except FileExistsError:
                    continue
                self._linked = candidate
            os.replace(self._linked, self.path)
            self._linked = None
            return
        if self.force:
            os.replace(self._named, self.path)
        else:
            try:
                os.link(self._named, self.path)
            except FileExistsError:
                raise
            except OSError:  # hard links unsupported here: check, then rename
                refuse_existing(self.path, force=False)
                os.replace(self._named, self.path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(self._named)
        self._named = None

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self._buffer.clear()
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def abort(self) -> None:
        """Drop everything written: ``path`` stays as it was; nothing is left behind."""
        for leftover in (self._named, self._linked):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
        self._named = self._linked = None
        self._close()

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.closed:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_atomic(path: Path | str, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :class:`AtomicWriter`); never clobber unless ``force``."""
    with AtomicWriter(path, force=force) as out:
        out.write(data)


@contextlib.contextmanager
def scratch_dir(target: Path | str) -> Iterator[Path]:
    """A private directory next to ``target`` for a file that a library must build by name.

    It is ``.<name>.<12 hex digits>.build``, locked for as long as the block runs, removed
    afterwards, and removed by the next build of ``target`` if the process died; move the result
    into place with :func:`publish`.
    """
    target = Path(target)
    make_dirs(target.parent)
    sweep(target)
    while True:
        path = _temporary_name(target, ".build")
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        except OSError as exc:
            raise output_error(target, exc) from exc
        try:
            fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise output_error(target, exc) from exc
        if _lock(fd) and _names(fd, path):
            break
        os.close(fd)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def publish(built: Path | str, target: Path | str, *, force: bool = False) -> None:
    """Flush ``built`` (a file in a :func:`scratch_dir` of ``target``) to the disk and rename it to ``target``."""
    target = Path(target)
    try:
        fd = os.open(built, os.O_RDONLY | _O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if not force:
            os.link(built, target)
            os.unlink(built)
        else:
            os.replace(built, target)
    except FileExistsError:
        raise UsageError(f"{target} already exists; pass --force to overwrite it") from None
    except OSError as exc:
        raise output_error(target, exc) from exc


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages: ``a directory``, ``a FIFO (named pipe)``, ..."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
