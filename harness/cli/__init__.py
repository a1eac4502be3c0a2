"""The ``harness`` command line: parse, call one public function, print, map to an exit code.

Exit codes: 0 everything passed, 1 a check failed (a scenario, a lint issue, a replay error),
2 a usage error (bad option, missing file, malformed input, an output that cannot be written),
130 interrupted (SIGINT, Ctrl-C): ``interrupted`` on stderr, no traceback, and every file being
written is dropped, so the previous one stays as it was.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from harness.defaults import DEFAULT_GOLDENS, DEFAULT_REPORTS, DEFAULT_TRANSCRIPTS
from harness.errors import HarnessError, UsageError

if TYPE_CHECKING:  # loaded by the commands that use them: `harness --help` stays fast
    from rich.console import Console

    from harness.scenario.suite import SuiteResult

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C stopped


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description=(
            "Record LLM provider and agent-runtime traffic; replay it into your own code "
            "or the reference orchestrator core."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("import", help="convert a cassette, raw SSE or stream-json capture into a transcript")
    p.add_argument(
        "source",
        type=Path,
        help="vcrpy cassette (may be gzipped), raw SSE body, one SSE payload per line, or Claude Code CLI stream-json",
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="transcript file to write")
    p.add_argument("--protocol", help="the source's protocol (needed only when neither URLs nor events say)")
    p.add_argument("--request", type=Path, help="request body JSON that produced a raw SSE body")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")

    p = commands.add_parser("translate", help="rewrite a transcript's conversation in another protocol (derived)")
    p.add_argument("source", type=Path, help="a replayable transcript, or a scenario file that replays one")
    p.add_argument("--to", dest="protocol", required=True, help="target protocol, e.g. openai.chat")
    p.add_argument("-o", "--out", type=Path, required=True, help="transcript file to write")
    p.add_argument("--model", help="model name for the target requests (default: the source's)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")

    p = commands.add_parser("validate", help="lint transcripts: schema, ordering, orphan entries")
    p.add_argument("transcripts", type=Path, nargs="+")

    p = commands.add_parser("replay", help="replay one transcript (or scenario) through the core and print the outcome")
    p.add_argument("transcript", type=Path, help="a transcript, or a scenario file to replay as it says")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object (a stable interface)")

    for name, help_text in (("run", "run scenarios, check goldens, write reports/"),):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("scenarios", type=Path, nargs="*", help="scenario files or directories (default: scenarios/)")
        p.add_argument(
            "--update-goldens",
            action="store_true",
            help="write goldens instead of comparing (not for scenarios whose replay failed)",
        )
        p.add_argument(
            "--include-failed",
            action="store_true",
            help="with --update-goldens: also write the goldens of scenarios whose replay failed",
        )
        p.add_argument("--goldens-dir", type=Path, default=DEFAULT_GOLDENS)
        p.add_argument("--report-dir", type=Path, default=DEFAULT_REPORTS)
        p.add_argument("--transcripts-dir", type=Path, default=DEFAULT_TRANSCRIPTS)
        p.add_argument("--seed", type=int, default=None, help="seed for generated ids (default: each scenario's)")

    goldens = commands.add_parser("goldens", help="manage golden files").add_subparsers(
        dest="goldens_command", required=True, metavar="ACTION"
    )
    p = goldens.add_parser("update", help="write the goldens of the given (default: all) scenarios")
    p.add_argument("scenarios", type=Path, nargs="*")
    p.add_argument("--goldens-dir", type=Path, default=DEFAULT_GOLDENS)
    p.add_argument(
        "--prune",
        action="store_true",
        help="delete goldens no scenario uses (whole suite only; goldens owned by tests are kept)",
    )
    p.add_argument(
        "--include-failed", action="store_true", help="also write the goldens of scenarios whose replay failed"
    )

    db = commands.add_parser("db", help="the DuckDB analysis file").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    p = db.add_parser("build", help="run scenarios and load transcripts, frames, events, verdicts")
    p.add_argument("scenarios", type=Path, nargs="*")
    p.add_argument("--db", type=Path, default=DEFAULT_REPORTS / "harness.duckdb")
    p.add_argument("--goldens-dir", type=Path, default=DEFAULT_GOLDENS)
    p.add_argument("--transcripts-dir", type=Path, default=DEFAULT_TRANSCRIPTS)
    p.add_argument("--seed", type=int, default=None)

    p = commands.add_parser("query", help="run SQL against the DuckDB file and print a table")
    p.add_argument("sql")
    p.add_argument("--db", type=Path, default=DEFAULT_REPORTS / "harness.duckdb")
    p.add_argument("--json", action="store_true", help="print rows as JSON objects, one per line")

    _register_modules(commands)
    return parser


def _register_modules(commands: Any) -> None:
    """Commands that live in their own module: each adds its subparser and sets ``handler``."""
    from harness.cli import fake_runtime, report, serve, simulate

    report.register(commands)
    fake_runtime.register(commands)
    serve.register(commands)
    simulate.register(commands)
    _register_record(commands)


def _register_record(commands: Any) -> None:
    """The ``record`` group: live recording actions, each from its own module (``exec``, ``proxy``)."""
    from harness.cli.record_exec import add_exec_parser
    from harness.cli.record_proxy import add_proxy_parser

    record = commands.add_parser("record", help="record a live runtime or provider into a transcript")
    actions = record.add_subparsers(dest="record_command", required=True, metavar="ACTION")
    add_exec_parser(actions)
    add_proxy_parser(actions)


def _run_suite_with_progress(console: Console, args: argparse.Namespace, *, update: bool) -> SuiteResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from harness.scenario.suite import run_suite

    with Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("replaying", total=None)

        def started(total: int) -> None:
            progress.update(task, total=total)

        def finished(result: Any) -> None:
            progress.update(task, advance=1, description=result.scenario.name)

        return run_suite(
            args.scenarios,
            goldens_dir=args.goldens_dir,
            update_goldens=update,
            seed=getattr(args, "seed", None),
            transcripts_dir=getattr(args, "transcripts_dir", None),
            on_start=started,
            on_result=finished,
            update_failed=bool(getattr(args, "include_failed", False)),
        )


def _print_skipped_goldens(console: Console, suite: SuiteResult) -> None:
    for result in suite.results:
        for checked in result.variants or [result]:
            if checked.golden_skipped is not None:
                console.print(
                    f"  skipped  {checked.golden_path} ({checked.golden_skipped}; pass --include-failed to write it)",
                    highlight=False,
                    markup=False,
                )


def _print_verdicts(console: Console, suite: SuiteResult) -> None:
    from rich.text import Text

    for result in suite.results:
        mark = ("PASS", "green") if result.passed else ("FAIL", "red")
        console.print(Text.assemble(mark, f" {result.scenario.name}"), highlight=False)
        for failure in result.failures:
            console.print(f"     {failure.kind}: {failure.message}", highlight=False, markup=False)
            if failure.detail:
                console.print(failure.detail, highlight=False, markup=False)
        if not result.passed:
            console.print(f"     reproduce: {result.reproduce}", highlight=False, markup=False)
    for path in suite.unused_goldens:
        console.print(Text.assemble(("unused golden", "yellow"), f" {path}"), highlight=False)
    _print_skipped_goldens(console, suite)
    passed = sum(r.passed for r in suite.results)
    console.print(f"{passed} passed, {len(suite.results) - passed} failed", highlight=False)


def _cmd_import(args: argparse.Namespace, console: Console) -> int:
    from harness.record import import_source
    from harness.record.redact import Redactor

    # The project's own [tool.harness.redact] rules, as recording uses them.
    redactor = Redactor.for_project(Path.cwd())
    result = import_source(
        args.source, args.out, protocol=args.protocol, request=args.request, force=args.force, redactor=redactor
    )
    console.print(
        f"wrote {result.out}: {result.protocol}, {result.exchanges} exchange(s), {result.entries} entries, "
        f"{result.redactions} redaction(s)",
        highlight=False,
        markup=False,
    )
    source_name = Path(args.source).name
    for skipped in result.skipped:
        console.print(f"note: {skipped.describe(source_name)}", highlight=False, markup=False)
    for warning in result.warnings:
        console.print(f"warning: {warning}", highlight=False, markup=False)
    if result.scenario is not None:
        console.print(
            f"wrote {result.scenario}: the scenario that replays it (harness replay {result.scenario})",
            highlight=False,
            markup=False,
        )
    return EXIT_OK


def _cmd_translate(args: argparse.Namespace, console: Console) -> int:
    from harness.record.translate import translate_transcript

    result = translate_transcript(args.source, args.out, protocol=args.protocol, model=args.model, force=args.force)
    console.print(
        f"wrote {result.out}: {result.protocol}, {result.responses} response(s), {result.entries} entries (derived)",
        highlight=False,
        markup=False,
    )
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from harness.transcript import read_transcript
    from harness.transcript.lint import lint_transcript

    status = EXIT_OK
    for path in args.transcripts:
        issues = lint_transcript(read_transcript(path))
        errors = [i for i in issues if i.severity == "error"]
        for issue in issues:
            console.print(
                f"{path}:{issue.line or 0}: {issue.severity}: [{issue.rule}] {issue.message}",
                highlight=False,
                markup=False,
            )
        if errors:
            status = EXIT_FAILED
        else:
            console.print(f"{path}: ok", highlight=False, markup=False)
    return status


def _cmd_replay(args: argparse.Namespace, console: Console) -> int:
    from harness.scenario.runner import replay_summary, replay_transcript, write_replay_summary

    # A large transcript's log spills to a scratch file (see harness.scenario.execute), so memory
    # stays flat in its length; close() removes it.
    execution = replay_transcript(args.transcript)
    try:
        if args.json:
            write_replay_summary(execution, sys.stdout.buffer.write)
            sys.stdout.buffer.flush()
        else:
            summary = replay_summary(execution, events=False)
            console.print(
                f"{summary['transcript']} ({summary['protocol']}): {summary['status']}",
                highlight=False,
                markup=False,
            )
            if summary["match"] != "strict":
                console.print(f"  requests matched {summary['match']}ally", highlight=False, markup=False)
            if summary["error"]:
                error = summary["error"]
                console.print(f"  error: {error['type']}: {error['message']}", highlight=False, markup=False)
            if summary["recording_ended"]:
                console.print(
                    "  the recording ends here: it holds no response to the app's next request",
                    highlight=False,
                    markup=False,
                )
            for number, message in enumerate(summary["messages"], start=1):
                _print_message(console, number, message)
            count = sum(1 for _ in execution.iter_events())
            console.print(f"  {count} events", highlight=False, markup=False)
    finally:
        execution.close()
    return EXIT_FAILED if execution.driver.failure is not None else EXIT_OK


def _print_message(console: Console, number: int, message: dict[str, Any]) -> None:
    """One assistant message of ``harness replay``: HTTP responses carry a stop reason, usage and
    tool calls; agent runtimes' messages carry the thread and run they belong to."""
    if "stop_reason" in message:
        head = f"  response {number}: stop_reason={message['stop_reason']} usage={message['usage']}"
    else:
        head = f"  message {number}: thread={message.get('thread_id')} run={message.get('run_id')}"
    console.print(head, highlight=False, markup=False)
    if message.get("reasoning"):
        console.print(f"    reasoning: {message['reasoning'][:200]}", highlight=False, markup=False)
    if message.get("text"):
        console.print(f"    text: {message['text'][:400]}", highlight=False, markup=False)
    calls = ", ".join(
        f"{call['name']}({orjson.dumps(call['arguments']).decode()})" for call in message.get("tool_calls", ())
    )
    if calls:
        console.print(f"    tool calls: {calls}", highlight=False, markup=False)


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import Invocation
    from harness.report import write_reports

    if args.include_failed and not args.update_goldens:
        raise UsageError("--include-failed only makes sense with --update-goldens")
    invocation = Invocation.start("harness run")
    suite = _run_suite_with_progress(console, args, update=args.update_goldens)
    paths = write_reports(
        args.report_dir,
        results=suite.results,
        transcripts=suite.transcripts,
        unused_goldens=suite.unused_goldens,
        invocation=invocation,
    )
    _print_verdicts(console, suite)
    console.print(f"reports: {paths.html} (open it in a browser), {paths.summary}", highlight=False, markup=False)
    return EXIT_OK if suite.passed else EXIT_FAILED


def _cmd_goldens(args: argparse.Namespace, console: Console) -> int:
    args.seed = None
    suite = _run_suite_with_progress(console, args, update=True)
    for result in suite.results:
        for checked in result.variants or [result]:  # a provider-neutral scenario: one golden per variant
            if checked.golden_skipped is not None:
                console.print(
                    f"  skipped  {checked.golden_path} ({checked.golden_skipped}; pass --include-failed to write it)",
                    highlight=False,
                    markup=False,
                )
                continue
            console.print(
                f"{checked.golden_outcome or 'no golden':>9}  {checked.golden_path or checked.scenario.name}",
                highlight=False,
                markup=False,
            )
        for failure in result.failures:
            console.print(f"     {failure.kind}: {failure.message}", highlight=False, markup=False)
    for path in suite.unused_goldens:
        if args.prune:
            path.unlink()
            console.print(f"   pruned  {path}", highlight=False, markup=False)
        else:
            console.print(f"   unused  {path} (delete it, or pass --prune)", highlight=False, markup=False)
    if args.prune:
        # Only a test run knows whether a harness_golden golden is used; pruning it would break tests.
        for path in suite.test_goldens:
            console.print(
                f'     kept  {path} (owner "test": written by harness_golden.assert_match; the tests check it)',
                highlight=False,
                markup=False,
            )
    return EXIT_OK if suite.passed else EXIT_FAILED


def _cmd_db(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import Invocation, build_database

    invocation = Invocation.start("harness db build")
    suite = _run_suite_with_progress(console, args, update=False)
    summary = build_database(
        args.db,
        transcripts=suite.transcripts,
        results=suite.results,
        unused_goldens=suite.unused_goldens,
        invocation=invocation,
    )
    console.print(f"wrote {args.db}: {summary}", highlight=False, markup=False)
    return EXIT_OK


def _cmd_query(args: argparse.Namespace, console: Console) -> int:
    from harness.analysis import query
    from harness.report import render_query_table

    if not args.db.exists():
        raise UsageError(f"{args.db}: no such database; build it with `harness db build` or `harness run`")
    result = query(args.db, args.sql)
    if args.json:
        for row in result.rows:
            sys.stdout.write(orjson.dumps(dict(zip(result.columns, row, strict=True)), default=str).decode() + "\n")
    else:
        console.print(render_query_table(result))
    return EXIT_OK


_COMMANDS = {
    "import": _cmd_import,
    "translate": _cmd_translate,
    "validate": _cmd_validate,
    "replay": _cmd_replay,
    "run": _cmd_run,
    "goldens": _cmd_goldens,
    "db": _cmd_db,
    "query": _cmd_query,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script; returns the exit code."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C, from parsing to the last write: one line, no traceback. Every file being written
        # was dropped on the way out (harness.files), so the previous one is as it was.
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rich.console import Console

    # No emoji codes: a message such as "scenario.yaml:100:end:" must print as written.
    console = Console(highlight=False, soft_wrap=True, emoji=False)
    errors = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    handler = getattr(args, "handler", None) or _COMMANDS[args.command]
    try:
        return int(handler(args, console))
    except UsageError as exc:
        errors.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    except HarnessError as exc:
        errors.print(f"failed: {exc}", markup=False)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
