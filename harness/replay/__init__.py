"""The replay driver: serves a transcript as the provider would and checks what the app sends."""

from harness.limits import format_json_path
from harness.replay.clock import Clock, LogicalClock
from harness.replay.driver import Inbound, ReplayDriver
from harness.replay.matcher import FrameMatcher, first_difference, parse_json_path

__all__ = [
    "Clock",
    "FrameMatcher",
    "Inbound",
    "LogicalClock",
    "ReplayDriver",
    "first_difference",
    "format_json_path",
    "parse_json_path",
]
