"""``harness record exec``: the command-line face of :mod:`harness.record.exec`.

The child's command line follows ``--`` and is kept verbatim. stdout belongs to the protocol
(the child's frames pass through it), so everything this command says goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

USAGE = "harness record exec -o OUT [--protocol P] [--force] -- CMD [ARGS...]"


def add_exec_parser(record_subparsers: Any) -> None:
    """Add the ``exec`` action to the ``harness record`` group."""
    p = record_subparsers.add_parser(
        "exec",
        help="run a stdio runtime as a child, pass its stdin/stdout through and record them",
        usage=USAGE,
        description="Record a stdio runtime: stdin lines become expect_outbound, the child's stdout lines "
        "emit_inbound, its exit runtime_exit; exits with the child's status. See docs/cli.md.",
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="transcript file to write (never overwritten)")
    p.add_argument("--protocol", help="codex.app-server or claude-code.stream-json (default: guessed from CMD)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]", help="the runtime to run")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace, console: Console) -> int:
    """Record one child process; returns its exit status (128 + N when a signal N killed it)."""
    from harness.record.exec import PROG, record_exec

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError(f"no command to record; put it after --: {USAGE}")
    result = record_exec(args.out, command, protocol=args.protocol, force=args.force, handle_signals=True)
    sys.stderr.write(
        f"{PROG}: wrote {result.out}: {result.entries} entries, {result.redactions} redaction(s); "
        f"{command[0]} ended with {result.status} (exit status {result.exit_code})\n"
    )
    return result.exit_code
