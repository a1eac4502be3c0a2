"""Transcript format v1: models, protocols, streaming reader and writer."""

from harness.transcript.io import (
    Entry,
    Transcript,
    TranscriptWriter,
    dump_transcript,
    iter_records,
    parse_transcript,
    read_transcript,
    write_atomic,
    write_transcript,
)
from harness.transcript.models import (
    EmitInbound,
    ExpectOutbound,
    HttpBody,
    HttpRequest,
    HttpResponse,
    RuntimeExit,
    SseDone,
    SseEvent,
    TranscriptHeader,
)
from harness.transcript.protocols import PROTOCOLS, ProtocolInfo, get_protocol, known_protocols

__all__ = [
    "PROTOCOLS",
    "EmitInbound",
    "Entry",
    "ExpectOutbound",
    "HttpBody",
    "HttpRequest",
    "HttpResponse",
    "ProtocolInfo",
    "RuntimeExit",
    "SseDone",
    "SseEvent",
    "Transcript",
    "TranscriptHeader",
    "TranscriptWriter",
    "dump_transcript",
    "get_protocol",
    "iter_records",
    "known_protocols",
    "parse_transcript",
    "read_transcript",
    "write_atomic",
    "write_transcript",
]
