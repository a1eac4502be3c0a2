"""``harness record proxy``: the command-line face of :class:`harness.record.proxy.RecordingProxy`.

The first line of stdout is the proxy's base URL; everything else goes to stderr. SIGINT or
SIGTERM stops it and writes OUT (``docs/cli.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli import EXIT_FAILED, EXIT_OK
from harness.cli.serve import StopOnSignals, port_number, print_url

if TYPE_CHECKING:
    from rich.console import Console

USAGE = "harness record proxy --upstream URL -o OUT [--port N] [--protocol P] [--force]"
_POLL_S = 0.05


def add_proxy_parser(record_subparsers: Any) -> None:
    """Add the ``proxy`` action to the ``harness record`` group."""
    p = record_subparsers.add_parser(
        "proxy",
        help="record any client that takes a base URL, through a loopback proxy to the real provider",
        usage=USAGE,
        description="Listen on 127.0.0.1 (the first line of stdout is the base URL), forward each request to "
        "--upstream and record the exchanges; SIGINT/SIGTERM writes OUT. See docs/cli.md.",
    )
    p.add_argument(
        "--upstream", required=True, metavar="URL", help="the provider's base URL, e.g. https://api.anthropic.com"
    )
    p.add_argument("-o", "--out", type=Path, required=True, help="transcript file to write (never overwritten)")
    p.add_argument("--port", type=port_number, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--protocol", help="anthropic.messages, openai.responses or openai.chat (default: from the path)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(handler=handle)


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def handle(args: argparse.Namespace, console: Console) -> int:
    """Proxy and record until SIGINT/SIGTERM, then write OUT; 1 when no request came."""
    from harness.record.proxy import PROG, RecordingProxy

    proxy = RecordingProxy(args.upstream, args.out, port=args.port, protocol=args.protocol, force=args.force, log=_log)
    with StopOnSignals() as stop, proxy:
        print_url(proxy.url)
        while stop.requested is None:
            time.sleep(_POLL_S)
    result = proxy.finish()
    status = EXIT_OK
    if result.out is not None:
        _log(
            f"{PROG}: wrote {result.out}: {result.protocol}, {result.exchanges} exchange(s), {result.entries} entries, "
            f"{result.redactions} redaction(s)"
        )
    elif not result.errors:
        _log(f"{PROG}: no request reached {proxy.url}; nothing written to {args.out}")
        status = EXIT_FAILED
    if result.errors:
        raise result.errors[0]  # a usage error: the CLI prints it and exits 2
    return status
