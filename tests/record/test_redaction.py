"""Redaction: which strings count as secrets, what replaces them, and which headers survive."""

from __future__ import annotations

import pytest

from harness.record.redact import (
    REQUEST_HEADER_ALLOWLIST,
    SECRET_HEADERS,
    keep_headers,
    redact_json,
    redact_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sk-ant-api03-AbCdEfGhIjKl_mn-op", "<redacted:anthropic-key>"),
        ("key is sk-proj-abcdefghijklmnopqrstuvwx, ok", "key is <redacted:openai-key>, ok"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "Authorization: <redacted:bearer>"),
    ],
    ids=["anthropic-key", "openai-key-inside-text", "bearer-token"],
)
def test_secret_is_replaced_by_marker(text, expected):
    assert redact_text(text) == (expected, 1)


@pytest.mark.parametrize(
    "text",
    [
        "risk-assessment-for-the-quarterly-report",
        "Bearer authentication is described in RFC 6750",
        "sk-short",
        "disk-usage-of-the-build-machine-today",
    ],
    ids=["word-ending-in-sk", "bearer-in-prose", "short-sk", "disk-prefix"],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == (text, 0)


def test_redact_json_scrubs_nested_strings_and_counts_each_match():
    value = {"a": ["x sk-ant-0123456789abc", {"b": "sk-ant-0123456789abc sk-ant-0123456789abd"}], "n": 3}
    clean, count = redact_json(value)
    assert clean == {"a": ["x <redacted:anthropic-key>", {"b": "<redacted:anthropic-key> <redacted:anthropic-key>"}], "n": 3}
    assert count == 3


def test_secret_headers_are_not_on_the_allowlist():
    assert not SECRET_HEADERS & REQUEST_HEADER_ALLOWLIST


def test_keep_headers_lowercases_sorts_and_drops_unlisted():
    headers = [("X-Api-Key", "sk-ant-secretsecret"), ("Content-Type", "application/json"), ("Accept", "*/*")]
    assert keep_headers(headers, REQUEST_HEADER_ALLOWLIST) == (
        {"accept": "*/*", "content-type": "application/json"},
        0,
    )
