"""harness.files: atomic writes with the user's umask, no clobbering, nothing left behind, one-line errors."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.files as files
from harness.errors import OutputError, UsageError
from harness.files import AtomicWriter, publish, scratch_dir, sweep, write_atomic
from harness.transcript import EmitInbound, TranscriptHeader, write_transcript

BIG = b"x" * (3 * 65536 + 17)  # more than one buffer: reaches the disk before commit


@pytest.fixture(params=["unnamed", "named"])
def temporaries(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with each kind of temporary file: unnamed (Linux O_TMPFILE) and named (elsewhere)."""
    if request.param == "unnamed":
        if not (getattr(os, "O_TMPFILE", 0) and os.path.isdir("/proc/self/fd")):
            pytest.skip("no O_TMPFILE here")
    else:
        monkeypatch.setattr(files, "_tmpfile_works", False)
    return str(request.param)


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_permissions_of_the_umask(
    tmp_path: Path, temporaries: str, umask: None, mask: int, mode: int
) -> None:
    os.umask(mask)
    write_atomic(tmp_path / "out.txt", b"hello\n")
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode
    write_atomic(tmp_path / "out.txt", b"again\n", force=True)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode


def test_a_dangling_symlink_counts_as_an_existing_file(tmp_path: Path, temporaries: str) -> None:
    link = tmp_path / "out.ndjson"
    link.symlink_to(tmp_path / "nowhere")
    assert not link.exists()  # what the old check asked
    with pytest.raises(UsageError, match=r"out\.ndjson already exists; pass --force to overwrite it"):
        write_atomic(link, b"data\n")
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()
    header = TranscriptHeader(provider="anthropic", protocol="anthropic.messages", version="1", scenario="s")
    with pytest.raises(UsageError, match="already exists"):
        write_transcript(link, header, [EmitInbound(frame={"kind": "sse.done"})])
    assert link.is_symlink()

    write_atomic(link, b"data\n", force=True)
    assert not link.is_symlink() and link.read_bytes() == b"data\n"
    assert not (tmp_path / "nowhere").exists()  # the link was replaced, not followed
    assert listing(tmp_path) == ["out.ndjson"]


def test_force_replaces_a_symlink_and_leaves_what_it_points_to(tmp_path: Path, temporaries: str) -> None:
    (tmp_path / "precious").write_bytes(b"precious\n")
    (tmp_path / "out").symlink_to("precious")
    write_atomic(tmp_path / "out", b"new\n", force=True)
    assert (tmp_path / "precious").read_bytes() == b"precious\n"
    assert not (tmp_path / "out").is_symlink() and (tmp_path / "out").read_bytes() == b"new\n"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_exception_mid_write_leaves_the_previous_file_and_nothing_else(
    tmp_path: Path, temporaries: str, error: type[BaseException]
) -> None:
    target = tmp_path / "out.ndjson"
    target.write_bytes(b"previous\n")
    with pytest.raises(error), AtomicWriter(target, force=True) as out:
        out.write(BIG)
        out.write(b"half a line")
        raise error("stopped mid-write")
    assert target.read_bytes() == b"previous\n"
    assert listing(tmp_path) == ["out.ndjson"]


def test_a_new_file_appears_only_when_committed(tmp_path: Path, temporaries: str) -> None:
    target = tmp_path / "sub" / "out.ndjson"
    with AtomicWriter(target) as out:
        out.write(BIG)
        out.write(b"end\n")
        assert not target.exists()
        if temporaries == "unnamed":
            assert listing(target.parent) == []  # the temporary file has no name at all
    assert target.read_bytes() == BIG + b"end\n"
    assert listing(target.parent) == ["out.ndjson"]


def test_a_file_that_appears_meanwhile_is_not_clobbered(tmp_path: Path, temporaries: str) -> None:
    target = tmp_path / "out.ndjson"
    out = AtomicWriter(target)
    out.write(b"mine\n")
    target.write_bytes(b"theirs\n")
    with pytest.raises(UsageError, match="already exists; pass --force"):
        out.commit()
    assert target.read_bytes() == b"theirs\n"
    assert listing(tmp_path) == ["out.ndjson"]


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores permission bits")
def test_a_read_only_directory_is_a_one_line_error(tmp_path: Path, temporaries: str) -> None:
    directory = tmp_path / "reports"
    directory.mkdir()
    (directory / "summary.md").write_bytes(b"previous\n")
    directory.chmod(0o555)
    try:
        with pytest.raises(OutputError) as caught:
            write_atomic(directory / "summary.md", b"new\n", force=True)
        assert (
            str(caught.value)
            == f"{directory}/summary.md: cannot write: permission denied (the previous file is unchanged)"
        )
        with pytest.raises(OutputError, match=r"cannot create the directory: permission denied$"):
            write_atomic(directory / "events" / "a.ndjson", b"new\n")
    finally:
        directory.chmod(0o755)
    assert listing(directory) == ["summary.md"]
    assert (directory / "summary.md").read_bytes() == b"previous\n"


def test_a_read_only_file_system_is_a_one_line_error(
    tmp_path: Path, temporaries: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(files, "_open_unnamed", read_only)
    monkeypatch.setattr(files, "_open_named", read_only)
    with pytest.raises(OutputError) as caught:
        write_atomic(tmp_path / "summary.md", b"new\n")
    assert str(caught.value) == f"{tmp_path}/summary.md: cannot write: read-only file system (nothing was written)"
    assert "\n" not in str(caught.value)
    assert (caught.value.path, caught.value.reason) == (str(tmp_path / "summary.md"), "read-only file system")


def test_a_directory_that_cannot_be_made_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "reports").write_bytes(b"a file, not a directory\n")
    with pytest.raises(OutputError) as caught:
        write_atomic(tmp_path / "reports" / "events" / "a.ndjson", b"new\n")
    assert str(caught.value) == f"{tmp_path}/reports/events: cannot create the directory: not a directory"


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_full_disk_is_a_one_line_error_and_the_previous_file_is_intact(
    tmp_path: Path, temporaries: str, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "summary.md"
    target.write_bytes(b"previous\n")

    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = AtomicWriter(target, force=True)
    with monkeypatch.context() as patch, pytest.raises(OutputError) as caught:
        patch.setattr(os, failing, full)
        out.write(BIG)
        out.commit()
    assert str(caught.value) == f"{target}: cannot write: no space left on device (the previous file is unchanged)"
    assert isinstance(caught.value, UsageError)
    assert target.read_bytes() == b"previous\n"
    assert listing(tmp_path) == ["summary.md"]


def test_an_abandoned_temporary_file_is_removed_by_the_next_write(tmp_path: Path, temporaries: str) -> None:
    target = tmp_path / "out.ndjson"
    abandoned = tmp_path / ".out.ndjson.0123456789ab.tmp"  # as a writer killed mid-write leaves it
    abandoned.write_bytes(b"half")
    unrelated = [tmp_path / ".out.ndjson.notours.tmp", tmp_path / ".other.ndjson.0123456789ab.tmp"]
    for path in unrelated:
        path.write_bytes(b"someone else's\n")
    write_atomic(target, b"whole\n")
    assert not abandoned.exists()
    assert all(path.exists() for path in unrelated)
    assert target.read_bytes() == b"whole\n"


def test_a_live_writer_keeps_its_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_tmpfile_works", False)
    target = tmp_path / "out.ndjson"
    first = AtomicWriter(target, force=True)
    first.write(b"first\n")
    assert sweep(target) == []  # its lock says it is alive
    write_atomic(target, b"second\n", force=True)
    first.commit()
    assert target.read_bytes() == b"first\n"
    assert listing(tmp_path) == ["out.ndjson"]


def test_a_scratch_directory_is_removed_after_use_and_after_a_crash(tmp_path: Path, umask: None) -> None:
    target = tmp_path / "harness.duckdb"
    (tmp_path / ".harness.duckdb.0123456789ab.build").mkdir()  # left by a killed build
    with scratch_dir(target) as work:
        assert work.parent == tmp_path and work.name.endswith(".build")
        (work / "harness.duckdb").write_bytes(b"db")
        assert listing(tmp_path) == [work.name]  # the abandoned one is gone
        publish(work / "harness.duckdb", target, force=True)
    assert listing(tmp_path) == ["harness.duckdb"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(RuntimeError), scratch_dir(target):
        raise RuntimeError("build failed")
    assert listing(tmp_path) == ["harness.duckdb"]
