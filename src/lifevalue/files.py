"""Writing output files and model folders safely.

Every output lifevalue writes goes through this module, so that:

* a reader never sees a half-written file: each file is written under a hidden
  temporary name in the same folder and moved into place with one ``os.replace``;
* files and folders get the permissions the umask allows (``0644`` and ``0755`` under
  the usual umask ``022``), as ``open`` would give them, so that a BI tool running as
  another user can read the scores and reports (``tempfile`` alone would give ``0600``);
* an interrupted save (an exception, Ctrl-C, or SIGTERM once the CLI has turned it into
  an exception) removes its temporary file or folder and logs that it was interrupted;
* a model folder is replaced atomically: ``--out`` is a symbolic link to a versioned
  folder beside it (``.<name>.v-<time>-<pid>``), and the swap is one ``os.replace`` of
  that link, so a kill at any moment leaves either the old or the new model at ``--out``;
* two runs writing the same output at the same time each write whole results and one of
  them wins: files by the atomic rename, model folders under an exclusive ``fcntl.flock``
  on a hidden lock file beside them (``.<name>.lock``).

Nothing here imports the rest of lifevalue.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger("lifevalue.files")

__all__ = ["atomic_write", "atomic_folder", "output_lock", "umask_mode"]


def umask_mode(kind: str = "file") -> int:
    """The permissions a new file (``0o666``) or folder (``0o777``) gets under the
    process's umask.

    Examples
    --------
    >>> old = os.umask(0o022)
    >>> oct(umask_mode("file")), oct(umask_mode("dir"))
    ('0o644', '0o755')
    >>> _ = os.umask(old)
    """
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if kind == "dir" else 0o666) & ~mask


def _interrupted(err: BaseException, what: str, path: Path) -> None:
    if isinstance(err, Exception):
        log.debug("save of %s failed: removed the partial %s", path, what)
    else:  # KeyboardInterrupt, or SystemExit from the CLI's SIGTERM handler
        log.warning("interrupted while saving %s (%s): removed the partial %s", path,
                    type(err).__name__, what)


def atomic_write(path, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` then move the file into place, so that a failure never
    leaves a half-written or overwritten ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.
    write : callable
        Called with the temporary path (a ``str``, in the same folder) to write to.

    Returns
    -------
    pathlib.Path
        ``path``, with the permissions the umask allows.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> atomic_write(out, lambda tmp: Path(tmp).write_text("hello")).read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, umask_mode("file"))
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _interrupted(err, f"file {tmp}", path)
        raise
    return path


@contextlib.contextmanager
def output_lock(path) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``.<name>.lock`` beside ``path``.

    Writers of the same output wait for each other; the lock file stays (it is empty)
    and the lock is released when the process ends, however it ends.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, umask_mode("file"))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _version_prefix(out: Path) -> str:
    return f".{out.name}.v-"


def _swap_link(out: Path, target_name: str) -> None:
    """Point ``out`` at ``target_name`` (a sibling) with one atomic ``os.replace``."""
    link = out.parent / f".{out.name}.link-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(target_name, link)
    try:
        if out.is_dir() and not out.is_symlink():
            _replace_real_folder(link, out)
        else:
            os.replace(link, out)
    except BaseException:
        if link.is_symlink():
            link.unlink()
        raise


def _replace_real_folder(link: Path, out: Path) -> None:
    """``out`` is a folder from an older lifevalue: exchange it with the link in one
    ``renameat2(RENAME_EXCHANGE)`` (Linux), else in two renames (logged)."""
    if _exchange(link, out):
        shutil.rmtree(link, ignore_errors=True)  # ``link`` now names the old folder
        return
    log.warning("%s is a plain folder and this system cannot exchange two paths atomically: "
                "replacing it in two steps (once; later saves swap a link)", out)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.replace(out, old)
    os.replace(link, out)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def atomic_folder(out, write: Callable[[Path], object]) -> Path:
    """Write a folder with ``write(tmp_folder)`` and swap it in at ``out`` atomically.

    ``out`` becomes a symbolic link to a versioned sibling folder; reading
    ``out/<file>`` works as with a plain folder. The swap is one ``os.replace`` of the
    link, done under :func:`output_lock`, so a kill at any moment leaves the old or the
    new folder at ``out`` (never neither, never a mix) and concurrent writers do not
    remove each other's folders. Versions no longer linked are removed after the swap.

    Parameters
    ----------
    out : str or path-like
        The folder to (re)place.
    write : callable
        Called with an empty temporary folder to fill.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "model"
    >>> _ = atomic_folder(out, lambda d: (d / "a.txt").write_text("1"))
    >>> (out / "a.txt").read_text(), out.is_symlink()
    ('1', True)
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write(tmp)
        os.chmod(tmp, umask_mode("dir"))
        with output_lock(out):
            version = f"{_version_prefix(out)}{time.time_ns()}-{os.getpid()}"
            os.replace(tmp, out.parent / version)
            tmp = out.parent / version
            _swap_link(out, version)
            tmp = None  # linked: no longer ours to remove
            _remove_unlinked_versions(out)
    except BaseException as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            _interrupted(err, f"folder {tmp}", out)
        raise
    return out


def _remove_unlinked_versions(out: Path) -> None:
    current = os.readlink(out) if out.is_symlink() else None
    for entry in out.parent.iterdir():
        if entry.name.startswith(_version_prefix(out)) and entry.name != current:
            shutil.rmtree(entry, ignore_errors=True)
