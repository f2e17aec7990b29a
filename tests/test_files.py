"""Output files and model folders: permissions, interrupted saves, atomic swaps, and
concurrent writers (real child processes, killed or racing)."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lifevalue import files
from lifevalue.models import base


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def child(code: str, *args, wait=True, **kw):
    """Run ``code`` in a fresh Python with lifevalue importable."""
    cmd = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def leftovers(folder: Path, out_name: str) -> list[str]:
    """Hidden temporary files or folders of ``out_name`` (the lock file and the linked
    version are not leftovers)."""
    out = folder / out_name
    current = os.readlink(out) if out.is_symlink() else None
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{out_name}.")
                  and p.name not in (current, f".{out_name}.lock"))


def test_atomic_write_is_reexported_from_models_base():
    assert base.atomic_write is files.atomic_write


def test_outputs_get_the_permissions_the_umask_allows(tmp_path, umask022):
    path = files.atomic_write(tmp_path / "scores.csv", lambda t: Path(t).write_text("x"))
    assert mode(path) == 0o644
    out = files.atomic_folder(tmp_path / "model", lambda d: (d / "a.nc").write_text("a"))
    assert mode(out) == 0o755 and mode(out / "a.nc") == 0o644
    with files.output_lock(tmp_path / "other"):
        assert mode(tmp_path / ".other.lock") == 0o644
    os.umask(0o077)
    assert mode(files.atomic_write(tmp_path / "private", lambda t: Path(t).write_text(""))) \
        == 0o600


def test_failed_saves_leave_nothing_behind(tmp_path):
    def broken(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(tmp_path / "s.csv", broken)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_folder(tmp_path / "m", lambda d: broken(d / "f"))
    assert list(tmp_path.iterdir()) == []


def test_a_new_folder_replaces_the_old_one_through_a_link(tmp_path):
    out = tmp_path / "model"
    out.mkdir()  # a plain folder, as older lifevalue versions wrote
    (out / "a.txt").write_text("old")
    for tag in ("new", "newer"):
        files.atomic_folder(out, lambda d, tag=tag: (d / "a.txt").write_text(tag))
        assert out.is_symlink() and (out / "a.txt").read_text() == tag
        assert leftovers(tmp_path, "model") == []


SLOW_SAVE = """
    import sys, time
    from pathlib import Path
    from lifevalue import cli, files
    cli._setup_logging(False)
    cli.install_signal_handlers()
    def slow(tmp):
        target = Path(tmp) / "part" if Path(tmp).is_dir() else Path(tmp)
        target.write_text("partial")
        print("saving", flush=True)
        time.sleep(60)
    save = files.atomic_folder if sys.argv[2] == "folder" else files.atomic_write
    save(sys.argv[1], slow)
"""


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_sigterm_during_a_save_cleans_up_and_says_so(tmp_path, kind):
    proc = child(SLOW_SAVE, tmp_path / "out", kind, wait=False)
    assert proc.stdout.readline().strip() == "saving"
    assert leftovers(tmp_path, "out")  # the partial save is there while it runs
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted while saving" in err and "removed the partial" in err
    assert leftovers(tmp_path, "out") == [] and not (tmp_path / "out").exists()


KILL_AT = """
    import os, shutil, signal, sys
    from pathlib import Path
    from lifevalue import files
    out, when = Path(sys.argv[1]), sys.argv[2]
    calls = {"n": 0}
    real_replace, real_rmtree = os.replace, shutil.rmtree
    def replace(a, b):
        calls["n"] += 1
        if when == f"replace{calls['n']}":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(a, b)
    def rmtree(path, **kw):
        if when == "cleanup":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_rmtree(path, **kw)
    files.os.replace, files.shutil.rmtree = replace, rmtree
    def write(d):
        (d / "a.txt").write_text("new")
        (d / "b.txt").write_text("new")
    files.atomic_folder(out, write)
"""


@pytest.mark.parametrize("when, expected", [("replace1", "old"), ("replace2", "old"),
                                            ("cleanup", "new"), ("never", "new")])
def test_a_kill_at_any_step_of_the_swap_leaves_the_old_or_the_new_model(tmp_path, when,
                                                                         expected):
    out = tmp_path / "model"
    files.atomic_folder(out, lambda d: [(d / n).write_text("old") for n in ("a.txt", "b.txt")])
    proc = child(KILL_AT, out, when)
    assert proc.returncode == (0 if when == "never" else -signal.SIGKILL), proc.stderr
    assert (out / "a.txt").read_text() == (out / "b.txt").read_text() == expected
    # the next save removes what the killed one left
    files.atomic_folder(out, lambda d: (d / "a.txt").write_text("next"))
    assert [p.name for p in tmp_path.iterdir() if ".v-" in p.name] == [os.readlink(out)]


RACE = """
    import sys
    from pathlib import Path
    from lifevalue import files
    folder, tag = Path(sys.argv[1]), sys.argv[2]
    blob = tag * 200_000
    def write(d):
        for name in ("a.txt", "b.txt"):
            (d / name).write_text(blob)
    for _ in range(15):
        files.atomic_folder(folder / "model", write)
        files.atomic_write(folder / "scores.csv", lambda t: Path(t).write_text(blob))
"""


def test_concurrent_writers_leave_one_whole_result(tmp_path):
    procs = [child(RACE, tmp_path, tag, wait=False) for tag in ("x", "y")]
    seen = set()
    deadline = time.monotonic() + 120
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        try:  # a reader that resolves the link once sees one whole version
            version = (tmp_path / "model").resolve(strict=True)
            texts = {(version / n).read_text() for n in ("a.txt", "b.txt")}
            scores = (tmp_path / "scores.csv").read_text()
        except FileNotFoundError:  # not written yet, or removed after a newer swap
            continue
        assert len(texts) == 1 and len(set(scores)) == 1 and len(scores) == 200_000
        seen |= {next(iter(texts))[0]}
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    a, b = ((tmp_path / "model" / n).read_text() for n in ("a.txt", "b.txt"))
    assert a == b and set(a) <= {"x", "y"} and len(a) == 200_000
    assert leftovers(tmp_path, "model") == [] and leftovers(tmp_path, "scores.csv") == []
