"""Record modes and :class:`Cassette`: one test's HTTP boundary, replayed or recorded as the mode says.

The modes are pytest-recording's (and vcrpy's), so their users know them:

============== =========================================================================
mode           what happens
============== =========================================================================
``none``       replay only; a missing transcript is an error (the default, and forced
               whenever the ``CI`` environment variable is set to anything but ``""``,
               ``0`` or ``false``)
``once``       replay the transcript if it exists, else record it
``new_episodes`` replay the recorded exchanges strictly in order, then record any further
               request live and append it (the file is rewritten atomically at the end)
``all``        record everything again, replacing the file
============== =========================================================================

Recording never overwrites a file unless the mode says so (``all``, or ``new_episodes``
appending). A replay never reaches the network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from harness.errors import UsageError
from harness.record.http import AsyncRecordingTransport, HttpRecording, RecordingTransport
from harness.record.redact import Redactor
from harness.replay.clock import Clock
from harness.replay.http import AsyncReplayTransport, HttpReplay, Pace, ReplayTransport
from harness.replay.matcher import FrameMatcher
from harness.transcript import read_transcript

RecordMode = Literal["none", "once", "new_episodes", "all"]
RECORD_MODES: tuple[str, ...] = get_args(RecordMode)
REPLAY_API_KEY = "harness-replay-key"
"""The API key replaying clients are built with: the SDKs want one, and the recording holds none."""


def resolve_mode(mode: str | None, environ: Mapping[str, str] | None = None) -> RecordMode:
    """The mode to use: ``mode`` (default ``none``), forced to ``none`` when ``CI`` is set."""
    environ = os.environ if environ is None else environ
    chosen = mode or "none"
    if chosen not in RECORD_MODES:
        raise UsageError(f"unknown record mode {chosen!r}; known modes: {', '.join(RECORD_MODES)}")
    if environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return "none"
    return chosen  # type: ignore[return-value]


class Cassette:
    """One transcript as an HTTP boundary for the user's SDK clients: replay it or record it.

    >>> cassette = Cassette("transcripts/test_agent/test_weather.ndjson", mode="once")  # doctest: +SKIP
    >>> client = cassette.anthropic()          # anthropic.Anthropic, retries off   # doctest: +SKIP
    >>> run_my_agent(client)                                                        # doctest: +SKIP
    >>> cassette.finish()   # replay: first ReplayError, then unconsumed entries; record: writes the file

    ``ignore`` lists JSON paths of the request frame not to compare (``$.body.metadata``);
    ``placeholders`` maps placeholders to this machine's values (``<workspace>``); a recording
    writes them in place of the values, a replay fills them back in.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        mode: str | None = "none",
        ignore: Sequence[str] = (),
        pace: Pace = "instant",
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        placeholders: Mapping[str, str] | None = None,
        protocol: str | None = None,
        environ: Mapping[str, str] | None = None,
        inner: Any = None,
        async_inner: Any = None,
    ) -> None:
        self.path = Path(path)
        self.mode: RecordMode = resolve_mode(mode, environ)
        self.placeholders = dict(placeholders or {})
        self.redactor = redactor or Redactor(placeholders=self.placeholders)
        self._inner = inner
        self._async_inner = async_inner
        self.replay: HttpReplay | None = None
        self.recording: HttpRecording | None = None
        self._finished = False
        exists = self.path.is_file()
        if self.mode == "none" and not exists:
            raise UsageError(
                f"{self.path}: no recording; record it once with --harness-record-mode=once "
                "(or Cassette(mode='once')) where the provider is reachable"
            )
        replaying = exists and self.mode in ("none", "once", "new_episodes")
        if replaying:
            transcript = read_transcript(self.path)
            self.replay = HttpReplay(
                [transcript],
                matcher=FrameMatcher.from_paths(ignore),
                clock=clock,
                pace=pace,
                redactor=self.redactor,
                placeholders=[(k, v) for k, v in self.placeholders.items()],
            )
        if self.mode == "new_episodes" and self.replay is not None:
            kept = self.replay.drivers[0].transcript
            self.recording = HttpRecording(
                self.path,
                protocol=kept.protocol,
                redactor=self.redactor,
                force=True,
                scenario=kept.header.scenario,
                keep=kept.entries,
            )
        elif not replaying:
            self.recording = HttpRecording(
                self.path, protocol=protocol, redactor=self.redactor, force=self.mode == "all"
            )
        self._sync: _CassetteTransport | None = None
        self._async: _AsyncCassetteTransport | None = None

    @property
    def recording_live(self) -> bool:
        """True when this cassette may reach the real provider (it records)."""
        return self.recording is not None

    # -- transports and clients ------------------------------------------------------------------

    def transport(self) -> _CassetteTransport:
        """The sync transport for ``httpx2.Client(transport=...)`` or ``httpx.Client``; one per cassette."""
        if self._sync is None:
            self._sync = _CassetteTransport(self)
        return self._sync

    def async_transport(self) -> _AsyncCassetteTransport:
        """The async transport for ``httpx2.AsyncClient(transport=...)``; one per cassette."""
        if self._async is None:
            self._async = _AsyncCassetteTransport(self)
        return self._async

    def _client_options(self, options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("max_retries", 0)
        if not self.recording_live:
            options.setdefault("api_key", REPLAY_API_KEY)
        return options

    def anthropic(self, **options: Any) -> Any:
        """An ``anthropic.Anthropic`` bound to this cassette (``max_retries=0`` unless given)."""
        import anthropic
        import httpx2

        http_client = httpx2.Client(transport=self.transport())
        return anthropic.Anthropic(http_client=http_client, **self._client_options(options))

    def async_anthropic(self, **options: Any) -> Any:
        """An ``anthropic.AsyncAnthropic`` bound to this cassette."""
        import anthropic
        import httpx2

        http_client = httpx2.AsyncClient(transport=self.async_transport())
        return anthropic.AsyncAnthropic(http_client=http_client, **self._client_options(options))

    def openai(self, **options: Any) -> Any:
        """An ``openai.OpenAI`` bound to this cassette (``max_retries=0`` unless given)."""
        import httpx2
        import openai

        http_client = httpx2.Client(transport=self.transport())
        return openai.OpenAI(http_client=http_client, **self._client_options(options))

    def async_openai(self, **options: Any) -> Any:
        """An ``openai.AsyncOpenAI`` bound to this cassette."""
        import httpx2
        import openai

        http_client = httpx2.AsyncClient(transport=self.async_transport())
        return openai.AsyncOpenAI(http_client=http_client, **self._client_options(options))

    # -- the end ---------------------------------------------------------------------------------

    def finish(self) -> Path | None:
        """Check the replay (first replay error, then unconsumed entries) and write any recording.

        Returns the transcript's path when a recording was written. Safe to call twice.
        """
        if self._finished:
            return None
        self._finished = True
        written: Path | None = None
        try:
            if self.replay is not None:
                self.replay.finish()
        except BaseException:
            if self.recording is not None:
                self.recording.abort()
            raise
        if self.recording is not None:
            written = self.recording.close()
        return written

    def abort(self) -> None:
        """Drop any recording in progress (the test failed before it finished)."""
        self._finished = True
        if self.recording is not None:
            self.recording.abort()


class _CassetteTransport(RecordingTransport):
    """Replay while the recording has exchanges; record live (``once``/``all``/``new_episodes``) after."""

    def __init__(self, cassette: Cassette) -> None:
        super().__init__(cassette.recording or HttpRecording(cassette.path), inner=cassette._inner)
        self.cassette = cassette
        self._replayer = ReplayTransport(cassette.replay) if cassette.replay is not None else None

    def handle_request(self, request: Any) -> Any:
        if self._replayer is not None and (
            self.cassette.recording is None or self._replayer.replay.can_answer(str(request.url))
        ):
            return self._replayer.handle_request(request)
        return super().handle_request(request)

    def close(self) -> None:
        # The cassette writes the file at finish(); closing a client only closes the network side.
        if self._inner is not None:
            self._inner.close()

    def finish(self) -> Path | None:
        return self.cassette.finish()


class _AsyncCassetteTransport(AsyncRecordingTransport):
    """The async twin of :class:`_CassetteTransport`."""

    def __init__(self, cassette: Cassette) -> None:
        super().__init__(cassette.recording or HttpRecording(cassette.path), inner=cassette._async_inner)
        self.cassette = cassette
        self._replayer = AsyncReplayTransport(cassette.replay) if cassette.replay is not None else None

    async def handle_async_request(self, request: Any) -> Any:
        if self._replayer is not None and (
            self.cassette.recording is None or self._replayer.replay.can_answer(str(request.url))
        ):
            return await self._replayer.handle_async_request(request)
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

    def finish(self) -> Path | None:
        return self.cassette.finish()


class RuntimeCassette:
    """One transcript as a stdio boundary: a fake runtime replaying it, or the real runtime recorded.

    >>> runtime = RuntimeCassette("transcripts/test_app/test_turn.ndjson", state_dir=tmp_path)  # doctest: +SKIP
    >>> app = MyApp(codex_bin=runtime.executable(real="codex"))                                  # doctest: +SKIP
    >>> app.run_turn("hello"); app.stop()                                                        # doctest: +SKIP
    >>> runtime.finish()  # replay: the first replay error, then unplayed process segments

    Replaying, :meth:`executable` is a shim that starts ``harness fake-runtime`` (each start plays
    the next process segment); recording (modes ``once`` with no transcript, or ``all``), it is a
    shim that runs ``real`` under ``harness record exec``. A recording holds one runtime process;
    ``new_episodes`` cannot append to a stdio recording and is refused.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        state_dir: Path | str,
        mode: str | None = "none",
        workspace: Path | str | None = None,
        ignore: Sequence[str] = (),
        protocol: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from harness.replay.stdio import FakeRuntime

        self.path = Path(path)
        self.mode: RecordMode = resolve_mode(mode, environ)
        self.state_dir = Path(state_dir)
        self.protocol = protocol
        exists = self.path.is_file()
        if self.mode == "none" and not exists:
            raise UsageError(
                f"{self.path}: no recording; record it once with --harness-record-mode=once "
                "(or RuntimeCassette(mode='once')) where the runtime is installed"
            )
        if self.mode == "new_episodes":
            raise UsageError(
                f"{self.path}: a stdio recording cannot be extended with new episodes; "
                "use mode 'all' to record it again"
            )
        self.fake: FakeRuntime | None = None
        if exists and self.mode in ("none", "once"):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.fake = FakeRuntime(
                self.path, state=self.state_dir / "fake-runtime.state.json", workspace=workspace, ignore=ignore
            )

    @property
    def recording_live(self) -> bool:
        """True when the real runtime runs (and is recorded)."""
        return self.fake is None

    def command(self, *args: str, real: str | None = None) -> list[str]:
        """The argv that starts the runtime with ``args``: the fake one, or ``real`` recorded."""
        from harness.record.exec import record_exec_command

        if self.fake is not None:
            return self.fake.command(*args)
        if real is None:
            raise UsageError(f"{self.path}: recording needs the real runtime's executable: pass real='codex'")
        return record_exec_command(self.path, [real, *args], protocol=self.protocol, force=self.mode == "all")

    def executable(self, name: str = "runtime", *, real: str | None = None) -> Path:
        """An executable file that stands for the runtime (``CODEX_BIN=...``, ``cli_path=...``)."""
        import shlex

        self.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.state_dir / name
        if self.fake is not None:
            return self.fake.write_shim(target)
        command = " ".join(shlex.quote(part) for part in self.command(real=real))
        target.write_text(
            "#!/bin/sh\n# Written by harness (RuntimeCassette): records the real runtime's stdio.\n"
            f'exec {command} "$@"\n',
            encoding="utf-8",
        )
        target.chmod(0o755)
        return target

    def finish(self) -> None:
        """Replaying: raise the first replay error, then unplayed segments. Recording: check the file was written."""
        if self.fake is not None:
            self.fake.finish()
        elif not self.path.is_file():
            raise UsageError(f"{self.path}: nothing was recorded: the app never started the runtime executable")
