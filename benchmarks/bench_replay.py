"""End-to-end replay throughput against vcrpy + the official SDKs, scaling and peak memory.

Contenders, run interleaved in this process (round-robin, the starting contender rotating each
round) on the same transcript:

* ``harness``: the project's end-to-end replay, as ``harness run``/``harness replay`` do it: read
  the transcript (and its scenario file, if it has one), run it through the core
  (``scenario_for_transcript``/``load_scenario`` + ``execute``), check the invariants, normalize the
  event log and compare it with a golden written once beforehand.
* ``vcrpy+SDK``: vcrpy replays a cassette of the same exchanges (built from the transcript's
  recorded requests and responses, SSE text re-serialized from the frames) into the official SDK's
  stream helper: ``client.messages.stream()`` + ``get_final_message()`` (Anthropic),
  ``client.responses.stream()`` + ``get_final_response()``, ``client.chat.completions.stream()`` +
  ``get_final_completion()`` (OpenAI). The cassette is loaded inside the timed region, as a test
  that uses it does, and every interaction must be played.
* ``SDK(mock)``: the same SDK calls over an ``httpx2.MockTransport`` serving the same bytes from
  memory (the SDK alone, no cassette).
* ``orjson``: the cheapest loop a replay can be: read the file and ``orjson.loads`` each line.

Agent runtimes (Codex app-server) have no SDK peer: ``harness`` and ``orjson`` only.

Ratios are per round (``a/b`` = harness throughput over vcrpy+SDK throughput, ``a/d`` = harness
over orjson) and reported as the median with the spread over rounds (min-max). A contender that
runs longer than ``--timeout`` is stopped and reported as ``> N s``.

Then, for every generated size, ``harness replay --json`` runs in a fresh subprocess: wall time,
time per event (the same command on the base recording subtracted as start-up) and peak RSS (from
``wait4``, so the number is that child's alone).

    python benchmarks/bench_replay.py                      # bundled + generated 1k..1M, scaling
    python benchmarks/bench_replay.py --quick              # bundled + generated 1k, 3 rounds
    python benchmarks/bench_replay.py --sizes 1000,10000 --protocols openai.chat
    python benchmarks/bench_replay.py T.ndjson S.yaml      # your own transcripts or scenarios
    python benchmarks/bench_replay.py --db                 # also the DuckDB build (bench_db.py)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import inspect
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import streams  # noqa: E402  (benchmarks/ is not a package)

SIZES = (1_000, 10_000, 100_000, 1_000_000)
HTTP_PROTOCOLS = ("anthropic.messages", "openai.responses", "openai.chat")
CONTENDERS = ("harness", "vcrpy+SDK", "SDK(mock)", "orjson")
#: Inputs this large run at most this many rounds (one round of the harness can take a minute).
LARGE = 1_000_000
LARGE_ROUNDS = 3
#: Scaling runs below this size are repeated three times (they are mostly interpreter start-up).
SCALING_REPEAT_BELOW = 100_000
#: The scaling section's per-event ratio starts here: below it, start-up noise exceeds the work.
SCALING_FROM = 10_000
BASE_URL = "https://api.test"


# -- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One transcript to measure (and the scenario file that replays it, if any)."""

    label: str
    protocol: str
    transcript: Path
    scenario: Path | None
    events: int
    size: int | None = None  # the requested size of a generated stream

    @property
    def target(self) -> Path:
        return self.scenario or self.transcript


def header_of(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        header: dict[str, Any] = orjson.loads(file.readline())
    return header


def count_entries(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for line in file if line.strip()) - 1


def bundled_inputs(protocols: tuple[str, ...]) -> list[Input]:
    """The largest bundled recording of each protocol, with the scenario that replays it, if one does."""
    from harness import load_scenario

    largest: dict[str, Path] = {}
    for path in sorted((ROOT / "transcripts").rglob("*.ndjson")):
        protocol = header_of(path).get("protocol")
        if protocol in protocols and (
            protocol not in largest or path.stat().st_size > largest[protocol].stat().st_size
        ):
            largest[protocol] = path
    scenario_of: dict[Path, Path] = {}
    for path in sorted((ROOT / "scenarios").rglob("*.yaml")):
        with contextlib.suppress(Exception):
            scenario = load_scenario(path)
            if scenario.transcript is not None:
                scenario_of.setdefault(scenario.transcript_path().resolve(), path)
    out = []
    for protocol in protocols:
        found = largest.get(protocol)
        if found is not None:
            label = f"{protocol} bundled"
            out.append(Input(label, protocol, found, scenario_of.get(found.resolve()), count_entries(found)))
    return out


def user_input(path: Path) -> Input:
    from harness import load_scenario

    if path.suffix in (".yaml", ".yml", ".toml"):
        scenario = load_scenario(path)
        transcript = scenario.transcript_path()
        return Input(path.stem, header_of(transcript)["protocol"], transcript, path, count_entries(transcript))
    return Input(path.stem, header_of(path)["protocol"], path, None, count_entries(path))


def generated_input(protocol: str, size: int, folder: Path) -> Input:
    made = streams.generate(protocol, size, folder / f"{protocol}.{size}.ndjson")
    scenario = made.target if made.target != made.transcript else None
    return Input(f"{protocol} {_size_label(size)}", protocol, made.transcript, scenario, made.events, size)


def _slug(item: Input) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", item.label)


def _size_label(size: int) -> str:
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{name}"
    return str(size)


# -- (a) the harness -------------------------------------------------------------------------------


class BenchError(Exception):
    """A contender did not do what it must (the numbers would mean nothing)."""


def check_execution(scenario: Any, execution: Any, label: str) -> None:
    """Raise :class:`BenchError` unless the replay was clean, ended in the scenario's expected
    status and broke no invariant: a contender that is not replaying is not timed."""
    import harness

    if execution.driver.failure is not None:
        raise BenchError(f"{label}: the replay failed: {execution.driver.failure}")
    runs = execution.runs
    if not runs or runs[-1]["status"] != scenario.expect.status:
        raise BenchError(f"{label}: the run ended {runs[-1]['status'] if runs else None!r}")
    errors = [v for v in harness.check_invariants(execution.iter_events()) if v.severity == "error"]
    if errors:
        raise BenchError(f"{label}: invariant {errors[0].rule}: {errors[0].message}")


STAGES = ("read", "execute", "invariants", "golden")


def harness_replay(item: Input, golden: Path, stages: dict[str, float] | None = None) -> None:
    """Read, replay through the core, check invariants, compare with the golden (``harness run``'s path)."""
    import harness
    from harness.scenario import golden_content

    clock = time.perf_counter
    start = clock()
    if item.scenario is not None:
        scenario = harness.load_scenario(item.scenario)
        transcript = harness.read_transcript(scenario.transcript_path())
    else:
        transcript = harness.read_transcript(item.transcript)
        scenario = harness.scenario_for_transcript(transcript, path=str(item.transcript))
    read = clock()
    execution = harness.execute(scenario, transcript=transcript)
    executed = clock()
    check_execution(scenario, execution, item.label)
    checked = clock()
    harness.check_golden(golden, golden_content(execution))
    done = clock()
    if stages is not None:
        for name, seconds in zip(
            STAGES, (read - start, executed - read, checked - executed, done - checked), strict=True
        ):
            stages[name] = seconds


def write_golden(item: Input, golden: Path) -> None:
    """The golden the timed replays compare against, produced once by the same replay."""
    import harness
    from harness.scenario import golden_bytes

    if item.scenario is not None:
        execution = harness.execute(harness.load_scenario(item.scenario))
    else:
        transcript = harness.read_transcript(item.transcript)
        execution = harness.execute(harness.scenario_for_transcript(transcript), transcript=transcript)
    harness.check_golden(golden, golden_bytes(execution), update=True)


# -- the recorded exchanges, as HTTP ------------------------------------------------------------------


@dataclass
class Exchange:
    """One recorded request and the response body the provider streamed back."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[bytes] = field(default_factory=list)

    @property
    def uri(self) -> str:
        from urllib.parse import urlencode

        return BASE_URL + self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def content(self) -> bytes:
        return b"".join(self.sse)


def sse_event(frame: dict[str, Any]) -> bytes:
    """One SSE event as the provider wrote it: ``event:`` (when named), ``data:``, a blank line."""
    if frame["kind"] == "sse.done":
        return b"data: [DONE]\n\n"
    head = f"event: {frame['event']}\n".encode() if frame.get("event") else b""
    return head + b"data: " + orjson.dumps(frame["data"]) + b"\n\n"


def exchanges_of(path: Path) -> list[Exchange]:
    """The transcript's HTTP exchanges; a BenchError for anything an SDK stream helper cannot be fed."""
    out: list[Exchange] = []
    with path.open("rb") as file:
        file.readline()
        for line in file:
            if not line.strip():
                continue
            entry = orjson.loads(line)
            frame = entry.get("frame")
            if entry["type"] == "expect_outbound":
                if frame.get("kind") != "http.request" or frame.get("method") != "POST":
                    raise BenchError(f"{path.name}: a {frame.get('method')} request (only POST streams are replayed)")
                out.append(Exchange("POST", frame["path"], dict(frame.get("query") or {}), frame.get("body")))
            elif entry["type"] == "emit_inbound":
                if not out:
                    raise BenchError(f"{path.name}: a stream-only transcript has no request to send")
                if frame["kind"] == "http.response":
                    out[-1].status = frame["status"]
                    out[-1].headers = dict(frame.get("headers") or {})
                elif frame["kind"] in ("sse", "sse.done"):
                    out[-1].sse.append(sse_event(frame))
                else:
                    raise BenchError(f"{path.name}: a {frame['kind']} response is not a stream")
            else:
                raise BenchError(f"{path.name}: a {entry['type']} entry has no HTTP equivalent")
    for exchange in out:
        exchange.headers.setdefault("content-type", "text/event-stream; charset=utf-8")
    return out


def write_cassette(exchanges: list[Exchange], path: Path) -> None:
    """A vcrpy cassette (JSON serializer) of the exchanges; the SSE text is written streamingly."""
    with path.open("wb") as sink:
        sink.write(b'{"version": 1, "interactions": [')
        for number, exchange in enumerate(exchanges):
            request = {
                "method": exchange.method,
                "uri": exchange.uri,
                "body": orjson.dumps(exchange.body).decode(),
                "headers": {"content-type": ["application/json"]},
            }
            head = {
                "status": {"code": exchange.status, "message": "OK"},
                "headers": {k: [v] for k, v in exchange.headers.items()},
            }
            sink.write(b"," if number else b"")
            sink.write(b'{"request": ' + orjson.dumps(request) + b', "response": ')
            sink.write(orjson.dumps(head)[:-1] + b', "body": {"string": "')
            for event in exchange.sse:
                sink.write(orjson.dumps(event.decode())[1:-1])
            sink.write(b'"}}}')
        sink.write(b"]}\n")


# -- (b), (c) the official SDKs ------------------------------------------------------------------


def _split(method: Callable[..., Any], body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body's parameters the SDK method names, and the rest (sent as ``extra_body``)."""
    names = set(inspect.signature(method).parameters)
    known = {k: v for k, v in body.items() if k in names and k != "stream"}
    extra = {k: v for k, v in body.items() if k not in names and k != "stream"}
    return known, extra


def _chat_tools_parseable(tools: Any) -> bool:
    """``chat.completions.stream`` accepts only strict function tools (it parses their arguments)."""
    return isinstance(tools, list) and all(
        isinstance(t, dict) and t.get("type") == "function" and (t.get("function") or {}).get("strict") is True
        for t in tools
    )


@dataclass
class SdkCall:
    """How one exchange is made through the SDK: the client's base URL and the stream call."""

    base_url: str
    call: Callable[[Any], Any]


def sdk_calls(protocol: str, exchanges: list[Exchange]) -> list[SdkCall]:
    """One stream-helper call per exchange, with the recorded request's parameters."""
    probe = _client(protocol, BASE_URL)
    calls = []
    for exchange in exchanges:
        body = dict(exchange.body or {})
        query = exchange.query or None
        if protocol == "anthropic.messages":
            known, extra = _split(probe.messages.stream, body)
            calls.append(SdkCall(BASE_URL, _anthropic_call(known, extra, query)))
            continue
        endpoint = "/responses" if protocol == "openai.responses" else "/chat/completions"
        if not exchange.path.endswith(endpoint):
            raise BenchError(f"{exchange.path}: not a {protocol} endpoint")
        base = BASE_URL + exchange.path.removesuffix(endpoint)
        if protocol == "openai.responses":
            known, extra = _split(probe.responses.stream, body)
            calls.append(SdkCall(base, _responses_call(known, extra, query)))
        else:
            known, extra = _split(probe.chat.completions.stream, body)
            if "tools" in known and not _chat_tools_parseable(known["tools"]):
                extra["tools"] = known.pop("tools")
            calls.append(SdkCall(base, _chat_call(known, extra, query)))
    return calls


def _anthropic_call(known: dict[str, Any], extra: dict[str, Any], query: Any) -> Callable[[Any], Any]:
    def call(client: Any) -> Any:
        with client.messages.stream(**known, extra_body=extra or None, extra_query=query) as stream:
            return stream.get_final_message()

    return call


def _responses_call(known: dict[str, Any], extra: dict[str, Any], query: Any) -> Callable[[Any], Any]:
    def call(client: Any) -> Any:
        with client.responses.stream(**known, extra_body=extra or None, extra_query=query) as stream:
            return stream.get_final_response()

    return call


def _chat_call(known: dict[str, Any], extra: dict[str, Any], query: Any) -> Callable[[Any], Any]:
    def call(client: Any) -> Any:
        with client.chat.completions.stream(**known, extra_body=extra or None, extra_query=query) as stream:
            return stream.get_final_completion()

    return call


def _sdk(protocol: str) -> Any:
    """The SDK module of ``protocol`` (imported on first use: ``anthropic`` alone takes seconds)."""
    import importlib

    return importlib.import_module("anthropic" if protocol == "anthropic.messages" else "openai")


def _client(protocol: str, base_url: str, http_client: Any = None) -> Any:
    sdk = _sdk(protocol)
    kind = sdk.Anthropic if protocol == "anthropic.messages" else sdk.OpenAI
    return kind(api_key="test", base_url=base_url, max_retries=0, http_client=http_client)


def run_sdk(protocol: str, calls: list[SdkCall], http_client: Any = None) -> list[Any]:
    """Make every exchange through the SDK; an error the SDK raises for a stream is its outcome."""
    errors = _sdk(protocol).APIError
    clients: dict[str, Any] = {}
    results = []
    for made in calls:
        client = clients.get(made.base_url)
        if client is None:
            client = clients[made.base_url] = _client(protocol, made.base_url, http_client)
        try:
            results.append(made.call(client))
        except errors as exc:
            results.append(exc)
    return results


def vcrpy_sdk(protocol: str, calls: list[SdkCall], cassette: Path) -> list[Any]:
    """(b): vcrpy plays the cassette into the SDK; every interaction must be played exactly once."""
    import vcr

    recorder = vcr.VCR(record_mode="none", serializer="json")
    with recorder.use_cassette(str(cassette)) as played:
        results = run_sdk(protocol, calls)
        if played.play_count != len(calls) or not played.all_played:
            raise BenchError(f"vcrpy played {played.play_count} of {len(calls)} interactions")
    return results


def mock_sdk(protocol: str, calls: list[SdkCall], exchanges: list[Exchange], bodies: list[bytes]) -> list[Any]:
    """(c): the SDK over an ``httpx2.MockTransport`` serving the recorded bytes in order."""
    import httpx2

    served = iter(zip(exchanges, bodies, strict=True))

    def handler(request: Any) -> Any:
        exchange, body = next(served)
        return httpx2.Response(exchange.status, headers=exchange.headers, content=body)

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http_client:
        return run_sdk(protocol, calls, http_client)


def sdk_view(protocol: str, result: Any) -> dict[str, Any]:
    """What an SDK result says, comparable with ``harness replay --json`` messages: text and tool calls."""
    if isinstance(result, BaseException):
        return {"error": type(result).__name__}
    if protocol == "anthropic.messages":
        text = "".join(b.text for b in result.content if b.type == "text")
        calls = [(b.name, b.input) for b in result.content if b.type == "tool_use"]
    elif protocol == "openai.responses":
        text = result.output_text
        calls = [(o.name, orjson.loads(o.arguments)) for o in result.output if o.type == "function_call"]
    else:
        message = result.choices[0].message
        text = message.content or ""
        calls = [(c.function.name, orjson.loads(c.function.arguments)) for c in message.tool_calls or []]
    return {"text": text, "tool_calls": calls}


# -- (d) the cheapest loop -----------------------------------------------------------------------


def orjson_loop(path: Path) -> int:
    loads = orjson.loads
    count = 0
    with path.open("rb") as file:
        for line in file:
            loads(line)
            count += 1
    return count


# -- timing ------------------------------------------------------------------------------------------


class Timeout(BaseException):
    """A contender ran past ``--timeout`` (a BaseException, so no ``except Exception`` in the code
    measured swallows it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Measured:
    """The rounds of one input: seconds per contender per round (None: not run that round)."""

    item: Input
    contenders: list[str]
    seconds: dict[str, list[float | None]] = field(default_factory=dict)
    timed_out: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    stages: list[dict[str, float]] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        values = [s for s in self.seconds.get(name, []) if s is not None]
        return statistics.median(values) if values and name not in self.timed_out else None

    def ratios(self, a: str, b: str) -> list[float]:
        """Per round: throughput of ``a`` over throughput of ``b`` (= time of b / time of a)."""
        pairs = zip(self.seconds.get(a, []), self.seconds.get(b, []), strict=False)
        return [tb / ta for ta, tb in pairs if ta and tb]


def measure(
    item: Input,
    folder: Path,
    *,
    rounds: int,
    timeout: float,
    warmup: bool,
    log: Callable[[str], None],
    gave_up: dict[str, float] | None = None,
) -> Measured:
    """Prepare every contender for ``item``, then time them round-robin.

    ``gave_up`` names contenders that already ran past the timeout on a smaller input of the same
    protocol: they are not run again and are reported as ``> N s`` (a lower bound that still holds).
    """
    golden = folder / f"golden.{_slug(item)}.ndjson"
    write_golden(item, golden)
    runs: dict[str, Callable[[], Any]] = {}
    stages: dict[str, float] = {}
    runs["harness"] = lambda: harness_replay(item, golden, stages)
    failed: dict[str, str] = {}
    if item.protocol in HTTP_PROTOCOLS:
        try:
            exchanges = exchanges_of(item.transcript)
            calls = sdk_calls(item.protocol, exchanges)
            cassette = folder / f"cassette.{_slug(item)}.json"
            write_cassette(exchanges, cassette)
            bodies = [e.content() for e in exchanges]
            runs["vcrpy+SDK"] = lambda: vcrpy_sdk(item.protocol, calls, cassette)
            runs["SDK(mock)"] = lambda: mock_sdk(item.protocol, calls, exchanges, bodies)
        except BenchError as exc:
            failed["vcrpy+SDK"] = failed["SDK(mock)"] = str(exc)
    runs["orjson"] = lambda: orjson_loop(item.transcript)
    names = [n for n in CONTENDERS if n in runs]
    result = Measured(item, names, {n: [] for n in names}, failed=failed)
    result.timed_out.update({n: t for n, t in (gave_up or {}).items() if n in names})
    if warmup:
        for name in names:
            _timed(result, name, runs[name], timeout, record=False)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            seconds = _timed(result, name, runs[name], timeout)
            if name == "harness" and seconds is not None:
                result.stages.append(dict(stages))
        log(f"  round {number + 1}/{rounds}: " + "  ".join(f"{n} {_fmt_s(result.seconds[n][-1])}" for n in names))
    return result


def _timed(result: Measured, name: str, run: Callable[[], Any], timeout: float, *, record: bool = True) -> float | None:
    if name in result.timed_out or name in result.failed:
        if record:
            result.seconds[name].append(None)
        return None
    gc.collect()
    start = time.perf_counter()
    try:
        with deadline(timeout):
            run()
    except Timeout:
        result.timed_out[name] = timeout
        seconds = None
    except BenchError as exc:
        result.failed[name] = str(exc)
        seconds = None
    else:
        seconds = time.perf_counter() - start
    if record:
        result.seconds[name].append(seconds)
    return seconds


# -- scaling: harness replay --json in a fresh process ------------------------------------------------


@dataclass
class Scaled:
    protocol: str
    size: int
    events: int
    seconds: float | None  # None: timed out
    rss_kib: int | None
    status: str


#: Runs the command given as its arguments and reports on stderr its wall seconds, peak RSS (KiB)
#: and exit code. The child is forked from this small process, not from the benchmark: on Linux a
#: child's ru_maxrss starts from its parent's RSS at fork, which would report the benchmark's.
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call(sys.argv[1:], stderr=subprocess.DEVNULL)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code, file=sys.stderr)
"""


def replay_subprocess(target: Path, timeout: float) -> tuple[float | None, int | None, str]:
    """``harness replay --json TARGET`` in a fresh process: wall seconds, peak RSS (KiB), replay status."""
    command = [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "harness", "replay", "--json", str(target)]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
        try:
            _, report = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the launcher and the replay it started
            process.communicate()
            return None, None, "timeout"
        out.seek(0)
        head = out.read(1 << 16).decode(errors="replace")
    try:
        seconds_text, rss_text, code = report.decode().split()[-3:]
        seconds, rss = float(seconds_text), int(rss_text)  # ru_maxrss is in KiB on Linux
    except ValueError:
        return None, None, f"launcher exit {process.returncode}"
    # The summary's first members are transcript, protocol, status (docs/cli.md): no need to parse
    # the whole object (hundreds of MB at 1M events) in this process.
    found = re.search(r'"status":"([a-z_]+)"', head)
    return seconds, rss, found.group(1) if found else f"exit {code}"


def scaling(
    protocols: tuple[str, ...],
    sizes: list[int],
    folder: Path,
    timeout: float,
    log: Callable[[str], None],
    *,
    keep: bool = False,
) -> tuple[list[Scaled], dict[str, float]]:
    rows: list[Scaled] = []
    startup: dict[str, float] = {}
    for protocol in protocols:
        base = streams.generate(protocol, streams.minimum_events(protocol), folder / f"{protocol}.base.ndjson")
        startup[protocol] = min(replay_subprocess(base.target, timeout)[0] or 0.0 for _ in range(3))
        for size in sizes:
            if size < streams.minimum_events(protocol):
                continue
            item = generated_input(protocol, size, folder)
            # Small sizes are mostly start-up: the fastest of three runs (and the highest RSS).
            runs = [replay_subprocess(item.target, timeout) for _ in range(3 if size < SCALING_REPEAT_BELOW else 1)]
            done = [(r[0], r[2]) for r in runs if r[0] is not None]
            seconds, status = min(done) if done else (None, runs[0][2])
            rss = max((r[1] for r in runs if r[1] is not None), default=None)
            rows.append(Scaled(protocol, size, item.events, seconds, rss, status))
            if not keep and size >= SCALING_REPEAT_BELOW:
                for stale in (item.transcript, item.scenario):
                    if stale is not None:
                        stale.unlink(missing_ok=True)
            log(f"  {protocol} {_size_label(size)}: {_fmt_s(seconds)} {rss or 0} KiB {status}")
    return rows, startup


# -- output -----------------------------------------------------------------------------------------


def _fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}s"


def _rate(result: Measured, name: str) -> str:
    if name in result.timed_out:
        return f"> {result.timed_out[name]:g} s"
    if name in result.failed or name not in result.seconds:
        return "n/a"
    median = result.median(name)
    return "-" if median is None else _human(result.item.events / median)


def _human(rate: float) -> str:
    for unit, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= unit:
            return f"{rate / unit:.2f}{suffix}/s"
    return f"{rate:.0f}/s"


def _spread(values: list[float], *, percent: bool = False) -> str:
    if not values:
        return "-"

    def fmt(value: float) -> str:
        return f"{value * 100:.0f}%" if percent else f"{value:.1f}x"

    return f"{fmt(statistics.median(values))} [{fmt(min(values))}-{fmt(max(values))}]"


def _ratio(result: Measured, a: str, b: str, *, percent: bool = False) -> str:
    median_a = result.median(a)
    if b in result.timed_out and median_a:
        bound = result.timed_out[b] / median_a
        return f"> {bound * 100:.0f}%" if percent else f"> {bound:.0f}x"
    if b not in result.seconds or b in result.failed:
        return "n/a"
    return _spread(result.ratios(a, b), percent=percent)


def report(results: list[Measured], print_: Callable[[str], None]) -> None:
    width = max([len(r.item.label) for r in results] + [5])
    print_("")
    print_("Throughput in events/s (median over rounds). Ratios are per round, median [min-max]:")
    print_("a/b = harness over vcrpy+SDK (goal >= 10x), a/c = over SDK(mock), a/d = over orjson (goal >= 25%)")
    head = f"{'input':<{width}} {'events':>8} " + " ".join(f"{c:>10}" for c in CONTENDERS)
    print_(head + f" {'a/b':>19} {'a/c':>19} {'a/d':>16}")
    for r in results:
        line = f"{r.item.label:<{width}} {r.item.events:>8} " + " ".join(f"{_rate(r, c):>10}" for c in CONTENDERS)
        line += f" {_ratio(r, 'harness', 'vcrpy+SDK'):>19} {_ratio(r, 'harness', 'SDK(mock)'):>19}"
        print_(line + f" {_ratio(r, 'harness', 'orjson', percent=True):>16}")
    print_("")
    print_("Harness stages, us per event (median over rounds)")
    print_(f"{'input':<{width}} " + " ".join(f"{s:>10}" for s in (*STAGES, "total")))
    for r in results:
        if r.stages:
            per = [statistics.median(s[n] for s in r.stages) / r.item.events * 1e6 for n in STAGES]
            total = statistics.median(sum(s.values()) for s in r.stages) / r.item.events * 1e6
            print_(f"{r.item.label:<{width}} " + " ".join(f"{v:>10.1f}" for v in (*per, total)))
    for r in results:
        if r.item.size is None:
            target = r.item.target
            print_(f"{r.item.label}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        for name, why in r.failed.items():
            print_(f"{r.item.label}: {name} not measured: {why}")
    linear = per_event_spread(results)
    if linear:
        print_("")
        print_("Harness time per event across generated sizes (in process; goal: max/min <= 1.5)")
        for protocol, (costs, ratio) in linear.items():
            listed = ", ".join(f"{_size_label(size)} {cost:.1f}us" for size, cost in costs)
            print_(f"  {protocol:<18} {listed}; max/min {ratio:.2f}")


def per_event_spread(results: list[Measured]) -> dict[str, tuple[list[tuple[int, float]], float]]:
    out: dict[str, tuple[list[tuple[int, float]], float]] = {}
    by_protocol: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        median = r.median("harness")
        if r.item.size is not None and median:
            by_protocol.setdefault(r.item.protocol, []).append((r.item.size, median / r.item.events * 1e6))
    for protocol, costs in by_protocol.items():
        if len(costs) > 1:
            values = [c for _, c in costs]
            out[protocol] = (costs, max(values) / min(values))
    return out


def report_scaling(rows: list[Scaled], startup: dict[str, float], print_: Callable[[str], None]) -> None:
    print_("")
    print_("Scaling: `harness replay --json` in a fresh process (us/event after start-up; peak RSS)")
    print_(f"{'protocol':<20} {'events':>9} {'wall':>10} {'us/event':>10} {'peak RSS':>11} {'status':>10}")
    for row in rows:
        wall = f"> {row.seconds}" if row.seconds is None else f"{row.seconds:.2f}s"
        if row.seconds is None:
            wall, per_event = "timeout", "-"
        else:
            per_event = f"{max(row.seconds - startup.get(row.protocol, 0.0), 0.0) / row.events * 1e6:.1f}"
        rss = f"{row.rss_kib / 1024:.0f} MiB" if row.rss_kib else "-"
        print_(f"{row.protocol:<20} {row.events:>9} {wall:>10} {per_event:>10} {rss:>11} {row.status:>10}")
    for protocol in dict.fromkeys(r.protocol for r in rows):
        mine = [r for r in rows if r.protocol == protocol and r.seconds is not None]
        costs = [(r.seconds - startup.get(protocol, 0.0)) / r.events for r in mine if r.size >= SCALING_FROM]  # type: ignore[operator]
        costs = [c for c in costs if c > 0]
        spread = f"{max(costs) / min(costs):.2f}" if len(costs) > 1 else "-"
        by_size = {r.size: r.rss_kib for r in mine if r.rss_kib}
        largest = max(by_size) if by_size else None
        rss_ratio = (
            f"{by_size[largest] / by_size[10_000]:.2f} ({_size_label(largest)}/10k)"
            if largest and 10_000 in by_size and largest > 10_000
            else "-"
        )
        print_(f"  {protocol:<20} per-event cost max/min from 10k {spread}; peak RSS ratio {rss_ratio}")
    print_(
        f"  start-up subtracted (the base recording's replay): {', '.join(f'{p} {s:.2f}s' for p, s in startup.items())}"
    )


def report_db(scenarios: int, print_: Callable[[str], None]) -> None:
    path = HERE / "bench_db.py"
    if not path.exists():
        print_("\nDuckDB build: benchmarks/bench_db.py is absent; skipped")
        return
    spec = importlib.util.spec_from_file_location("bench_db", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    measure_db = getattr(module, "measure", None)
    if measure_db is None:
        print_("\nDuckDB build: benchmarks/bench_db.py has no measure(scenarios); skipped")
        return
    figures = measure_db(scenarios)
    print_(f"\nDuckDB build ({scenarios} scenarios):")
    for key, value in figures.items():
        print_(f"  {key}: {value:.3g}" if isinstance(value, float) else f"  {key}: {value}")


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "inputs", nargs="*", type=Path, help="transcripts or scenario files (default: bundled + generated)"
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",") if x], help="generated sizes, e.g. 1000,10000"
    )
    parser.add_argument(
        "--protocols",
        type=lambda s: tuple(x for x in s.split(",") if x),
        default=streams.PROTOCOLS,
        help=f"comma-separated (default: {','.join(streams.PROTOCOLS)})",
    )
    parser.add_argument("--rounds", type=int, default=5, help=f"rounds per input (at most {LARGE_ROUNDS} from {LARGE})")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per contender per run (default 120)")
    parser.add_argument("--quick", action="store_true", help="generated 1k only, 3 rounds, no warm-up")
    parser.add_argument("--no-bundled", dest="bundled", action="store_false", help="skip the bundled recordings")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip the subprocess section")
    parser.add_argument(
        "--db",
        type=int,
        nargs="?",
        const=1000,
        metavar="SCENARIOS",
        help="also print benchmarks/bench_db.py's measure(SCENARIOS) (default 1000), if that file exists",
    )
    parser.add_argument("--workdir", type=Path, help="keep generated streams and cassettes here")
    parser.add_argument("--json", type=Path, help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    unknown = [p for p in args.protocols if p not in streams.PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocol {unknown[0]!r}; one of {', '.join(streams.PROTOCOLS)}")
    if args.quick:
        args.sizes = args.sizes or [1_000]
        args.rounds = min(args.rounds, 3)
    args.sizes = sorted(args.sizes) if args.sizes is not None else list(SIZES)
    args.gave_up = {}  # protocol -> contender -> the timeout it ran past on a smaller generated size
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (a ratio's spread needs rounds)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with contextlib.ExitStack() as stack:
        if args.workdir is not None:
            folder = args.workdir
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replay-")))
        items: list[Input] = [user_input(p) for p in args.inputs]
        if not args.inputs and args.bundled:
            items += bundled_inputs(args.protocols)
        results: list[Measured] = []
        for item in items:
            log(f"{item.label} ({item.events} events)")
            results.append(_measure(item, folder, args, log))
        if not args.inputs:
            for size in args.sizes:
                for protocol in args.protocols:
                    minimum = streams.minimum_events(protocol)
                    if size < minimum:
                        log(f"{protocol}: {size} is below the base recording's {minimum} events; skipped")
                        continue
                    item = generated_input(protocol, size, folder)
                    log(f"{item.label} ({item.events} events)")
                    results.append(_measure(item, folder, args, log))
                    for stale in (item.transcript, item.scenario):
                        if stale is not None and args.workdir is None and size >= 100_000:
                            stale.unlink(missing_ok=True)
        if results:
            report(results, print)
        rows: list[Scaled] = []
        startup: dict[str, float] = {}
        if args.scaling and not args.inputs and args.sizes:
            log("scaling")
            rows, startup = scaling(
                args.protocols, args.sizes, folder, args.timeout, log, keep=args.workdir is not None
            )
            report_scaling(rows, startup, print)
        if args.db is not None:
            report_db(args.db, print)
        if args.json is not None:
            args.json.write_bytes(orjson.dumps(_as_json(results, rows, startup), option=orjson.OPT_INDENT_2))
    return 0


def _measure(item: Input, folder: Path, args: argparse.Namespace, log: Callable[[str], None]) -> Measured:
    rounds = args.rounds if item.events < LARGE else min(args.rounds, LARGE_ROUNDS)
    warmup = not args.quick and item.events <= 10_000
    gave_up = args.gave_up.setdefault(item.protocol, {}) if item.size is not None else {}
    result = measure(item, folder, rounds=rounds, timeout=args.timeout, warmup=warmup, log=log, gave_up=gave_up)
    if item.size is not None:
        gave_up.update(result.timed_out)
    (folder / f"cassette.{_slug(item)}.json").unlink(missing_ok=True)
    return result


def _as_json(results: list[Measured], rows: list[Scaled], startup: dict[str, float]) -> dict[str, Any]:
    return {
        "replay": [
            {
                "input": r.item.label,
                "protocol": r.item.protocol,
                "events": r.item.events,
                "size": r.item.size,
                "seconds": r.seconds,
                "timed_out": r.timed_out,
                "failed": r.failed,
                "ratios": {
                    "a/b": r.ratios("harness", "vcrpy+SDK"),
                    "a/c": r.ratios("harness", "SDK(mock)"),
                    "a/d": r.ratios("harness", "orjson"),
                },
                "stages": r.stages,
            }
            for r in results
        ],
        "scaling": [row.__dict__ for row in rows],
        "startup": startup,
    }


if __name__ == "__main__":
    sys.exit(main())
