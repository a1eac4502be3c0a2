"""``harness serve``: replay transcripts over loopback HTTP to code that only takes a base URL.

The contract (``docs/cli.md``): the first line of stdout is the base URL, printed once the
socket listens; the process exits by itself once the replay is settled, or on SIGINT/SIGTERM;
0 if every entry was served and matched, 1 with the first replay error on stderr, 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from harness.cli import EXIT_OK

if TYPE_CHECKING:
    from rich.console import Console

_POLL_S = 0.05
"""How often the main thread looks at the stop flag: a signal handler must not take a lock."""


def port_number(text: str) -> int:
    """An ``argparse`` type: a TCP port, 0 meaning "any free port"."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, found {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, found {port}")
    return port


class StopOnSignals:
    """While entered, SIGINT and SIGTERM set :attr:`requested` instead of killing the process.

    The handler only sets a flag: it runs on the main thread between bytecodes, possibly while
    that thread holds a lock, so waking anyone up from it could deadlock. Callers poll the flag.
    Outside the main thread (a command run in-process by a test) nothing is installed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.requested = signum

    def __enter__(self) -> StopOnSignals:
        try:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def print_url(url: str) -> None:
    """The first line of stdout: the base URL, flushed at once (a parent process is waiting for it)."""
    sys.stdout.write(url + "\n")
    sys.stdout.flush()


def register(commands: Any) -> None:
    """Add ``harness serve`` to the top-level subcommands."""
    p = commands.add_parser(
        "serve",
        help="replay transcripts over loopback HTTP to any client that takes a base URL",
        description=(
            "Serve HTTP transcripts on 127.0.0.1. The first line of stdout is the base URL. Exits by itself "
            "once no client connection is open and every entry was served (or the replay failed), or on "
            "SIGINT/SIGTERM: 0 if all was consumed and matched, 1 on a replay error (printed to stderr), "
            "2 on a usage error. See docs/cli.md."
        ),
    )
    p.add_argument("transcripts", type=Path, nargs="+", metavar="TRANSCRIPT", help="HTTP transcripts, served in order")
    p.add_argument("--port", type=port_number, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    p.add_argument(
        "--pace",
        choices=("instant", "recorded"),
        default="instant",
        help="instant (default), or sleep each recorded afterMs before sending the part",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="JSONPATH",
        help='a request field not compared, e.g. "$.body.metadata" (repeatable)',
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    from harness.record.redact import Redactor
    from harness.replay.matcher import FrameMatcher
    from harness.replay.server import ReplayServer

    """Serve until settled or signalled; the replay's verdict is raised (exit 1) or 0 returned."""
    cwd, home = Path.cwd(), Path.home()
    server = ReplayServer(
        args.transcripts,
        port=args.port,
        pace=args.pace,
        matcher=FrameMatcher.from_paths(args.ignore),
        # Requests are redacted as the recording was, so a redacted secret matches; the
        # recording's path placeholders stand for this checkout.
        redactor=Redactor.for_project(cwd),
        placeholders=(("<workspace>", str(cwd)), ("<home>", str(home))),
    )
    with StopOnSignals() as stop, server:
        print_url(server.url)
        while not server.wait(_POLL_S) and stop.requested is None:
            pass
    server.finish()
    transcripts = len(server.replay.drivers)
    print(
        f"served {server.exchanges} exchange(s) from {transcripts} transcript(s); every entry consumed and matched",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_OK
