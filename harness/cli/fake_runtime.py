"""``harness fake-runtime``: the command-line face of :mod:`harness.replay.stdio`.

Everything after ``TRANSCRIPT`` belongs to the runtime: ``--`` separates the fake runtime's own
options from the argv the client started the runtime with, which is kept verbatim (a second
``--`` inside it, as in ``claude -p -- PROMPT``, is part of it).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

USAGE = (
    "harness fake-runtime [--state FILE] [--workspace DIR] [--pace {instant,recorded}] [--ignore PATH]... "
    "TRANSCRIPT [-- ARGV...]"
)


def _add_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    suppress = None if defaults else argparse.SUPPRESS
    parser.add_argument(
        "--state",
        metavar="FILE",
        default=suppress,
        help="share a transcript between successive runtime processes: each start plays the next process "
        "segment (split at runtime_exit) and records its outcome in FILE (JSON, created if missing)",
    )
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        default=suppress,
        help="the value of <workspace> in the recording (default: the current directory)",
    )
    parser.add_argument(
        "--pace",
        choices=("instant", "recorded"),
        default="instant" if defaults else argparse.SUPPRESS,
        help="instant (default): write frames as fast as they are read; recorded: sleep each frame's afterMs",
    )
    parser.add_argument(
        "--ignore",
        metavar="PATH",
        action="append",
        default=[] if defaults else argparse.SUPPRESS,
        help="a JSON path not compared in outbound frames, e.g. '$.params.clientInfo.version' (repeatable)",
    )


def register(commands: Any) -> None:
    """Add the ``fake-runtime`` subparser to the ``harness`` command group."""
    p = commands.add_parser(
        "fake-runtime",
        help="stand in for a stdio runtime (codex app-server, claude CLI) and replay a transcript to its client",
        usage=USAGE,
        description="Play one process segment of a stdio transcript on stdin/stdout; exit with the recorded "
        "status, 97 on any replay failure, 2 on a usage error. See docs/cli.md.",
    )
    _add_options(p, defaults=True)
    p.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="TRANSCRIPT [-- ARGV...]",
        help="the transcript, then -- and the argv the runtime was started with (checked against metadata.argv)",
    )
    p.set_defaults(handler=handle)


def _split(rest: list[str]) -> tuple[str, list[str], list[str]]:
    """``TRANSCRIPT [OPTIONS...] [-- ARGV...]`` → (transcript, options after it, argv)."""
    if not rest or rest[0] == "--" or rest[0].startswith("-"):
        raise SystemExit(_usage_error("a TRANSCRIPT is required before -- and the runtime's argv"))
    transcript, tail = rest[0], rest[1:]
    if "--" in tail:
        cut = tail.index("--")
        return transcript, tail[:cut], tail[cut + 1 :]
    return transcript, tail, []


def _usage_error(message: str) -> int:
    from harness.replay.stdio import PROG

    sys.stderr.write(f"usage: {USAGE}\n{PROG}: error: {message}\n")
    return 2


def handle(args: argparse.Namespace, console: Console) -> int:
    """Run one fake runtime process; returns its exit status (never raises for replay or usage errors)."""
    from harness.replay.stdio import PROG, run_fake_runtime

    transcript, options, argv = _split(list(args.rest))
    if options:
        # Options written after TRANSCRIPT (before --) are accepted too.
        late = argparse.ArgumentParser(prog=PROG, usage=USAGE, add_help=False)
        _add_options(late, defaults=False)
        extra = late.parse_args(options)
        for name in ("state", "workspace", "pace"):
            if hasattr(extra, name):
                setattr(args, name, getattr(extra, name))
        args.ignore = [*args.ignore, *getattr(extra, "ignore", [])]
    return run_fake_runtime(
        transcript,
        argv=argv,
        state=args.state,
        workspace=args.workspace,
        pace=args.pace,
        ignore=args.ignore,
        handle_signals=True,
    )
