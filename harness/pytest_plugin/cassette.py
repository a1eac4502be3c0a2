"""The ``harness_cassette`` fixture: the test's own SDK clients, bound to the test's transcript.

Example::

    def test_weather_agent(harness_cassette):
        agent = WeatherAgent(client=harness_cassette.anthropic())
        assert agent.run("Weather in Paris?").startswith("It is")

The transcript is ``<transcripts dir>/<test module path>/<test name>.ndjson`` unless a
``@pytest.mark.harness_cassette("name")`` marker names it; the record mode comes from
``--harness-record-mode`` or the ``harness_record_mode`` ini option (``none`` by default, and
always ``none`` when ``CI`` is set). At teardown the cassette is finished: the first replay
error, then unconsumed entries, fail the test; a recording is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.pytest_plugin.session import HarnessSession, display_path, get_session
from harness.record.modes import Cassette, RuntimeCassette
from harness.record.redact import Redactor
from harness.transcript import read_transcript

MARKER = "harness_cassette"
MARKER_HELP = (
    "harness_cassette(name=None, *, ignore=(), protocol=None, pace='instant'): the transcript this test's "
    "harness_cassette fixture replays or records (a path relative to the transcripts directory, "
    "'.ndjson' optional), JSON paths of requests not to compare, the protocol of a gateway URL, pacing."
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]=,+@-]+")


def transcript_name(nodeid: str) -> Path:
    """The default transcript of a test: its module path without ``.py``, then its name.

    >>> transcript_name("tests/test_agent.py::TestLoop::test_retry[slow/1]").as_posix()
    'tests/test_agent/TestLoop/test_retry[slow-1].ndjson'
    """
    module, _, rest = nodeid.partition("::")
    parts = [p for p in Path(module.removesuffix(".py")).parts if p not in ("", ".", "..")]
    names = [_UNSAFE.sub("-", part).strip("-") or "_" for part in rest.split("::") if part]
    return Path(*parts, *names[:-1], f"{names[-1] if names else 'test'}.ndjson")


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return {}
    options = dict(marker.kwargs)
    if marker.args:
        options["name"] = marker.args[0]
    unknown = sorted(set(options) - {"name", "ignore", "protocol", "pace"})
    if unknown:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.{MARKER} got unknown option(s) {', '.join(unknown)}")
    return options


def _transcript_path(node: pytest.Item, directory: Path, name: str | None) -> Path:
    """The marker's transcript name, or the node id's; either must stay inside ``directory``."""
    relative = (
        Path(name if str(name).endswith(".ndjson") else f"{name}.ndjson") if name else transcript_name(node.nodeid)
    )
    path = directory / relative
    if relative.is_absolute() or not path.resolve().is_relative_to(directory.resolve()):
        pytest.fail(f"{MARKER}: transcript name {name!r} must be a relative path inside {directory}", pytrace=False)
    return path


@pytest.fixture
def harness_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """A :class:`~harness.record.modes.Cassette` bound to this test's transcript; finished at teardown."""
    session = get_session(request.config)
    node = request.node
    options = _marker_options(node)
    path = _transcript_path(node, session.transcripts_dir, options.get("name"))
    placeholders = {"<workspace>": str(session.rootpath), "<home>": str(Path.home())}
    problem: str | None = None
    try:
        cassette = Cassette(
            path,
            mode=session.record_mode,
            ignore=tuple(options.get("ignore", ())),
            pace=options.get("pace", "instant"),
            protocol=options.get("protocol"),
            redactor=Redactor.for_project(session.rootpath, placeholders=placeholders),
            placeholders=placeholders,
        )
    except HarnessError as exc:
        problem = str(exc)
    # Failing outside the except block keeps pytest from printing the error twice.
    if problem is not None:
        pytest.fail(
            f"harness_cassette: {problem}".replace(str(path), display_path(path, session.rootpath)), pytrace=False
        )
    yield cassette
    written: Path | None = None
    try:
        written = cassette.finish()
    except HarnessError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(
            f"harness_cassette: {problem}".replace(str(path), display_path(path, session.rootpath)), pytrace=False
        )
    _note(session, node.nodeid, path)
    if written is not None:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(cassette.redactor.counts.items()))
        redacted = f" (redacted: {counts})" if counts else ""
        session.notes.append(f"recorded {display_path(written, session.rootpath)}{redacted}")


@pytest.fixture
def harness_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeCassette]:
    """A :class:`~harness.record.modes.RuntimeCassette` for this test's stdio transcript.

    Same transcript naming, marker and record mode as ``harness_cassette``; finished at teardown.
    """
    session = get_session(request.config)
    node = request.node
    options = _marker_options(node)
    path = _transcript_path(node, session.transcripts_dir, options.get("name"))
    try:
        runtime = RuntimeCassette(
            path,
            state_dir=tmp_path / "harness-runtime",
            mode=session.record_mode,
            workspace=session.rootpath,
            ignore=tuple(options.get("ignore", ())),
            protocol=options.get("protocol"),
        )
    except HarnessError as exc:
        pytest.fail(f"harness_runtime: {exc}", pytrace=False)
    yield runtime
    try:
        runtime.finish()
    except HarnessError as exc:
        pytest.fail(f"harness_runtime: {exc}", pytrace=False)
    _note(session, node.nodeid, path)


def _note(session: HarnessSession, nodeid: str, path: Path) -> None:
    """Like harness_replay's transcripts, a cassette's lands in --harness-report and --harness-db
    (frames, time to first token), and among the test's transcripts when it uses harness_results."""
    if not path.is_file():
        return
    name = display_path(path, session.rootpath)
    try:
        session.note_transcript(read_transcript(path, path=name))
    except HarnessError:
        return  # the replay has already failed the test, naming the file
    record = session.recorded.get(nodeid)
    if record is not None and name not in record.transcripts:
        record.transcripts.append(name)
