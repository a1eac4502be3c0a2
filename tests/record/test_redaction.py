"""Redaction: which strings count as secrets, what replaces them, and which headers survive."""

from __future__ import annotations

import re

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
    marker = "<redacted:anthropic-key>"
    assert clean == {"a": [f"x {marker}", {"b": f"{marker} {marker}"}], "n": 3}
    assert count == 3


def test_secret_headers_are_not_on_the_allowlist():
    assert not SECRET_HEADERS & REQUEST_HEADER_ALLOWLIST


def test_keep_headers_lowercases_sorts_and_drops_unlisted():
    headers = [("X-Api-Key", "sk-ant-secretsecret"), ("Content-Type", "application/json"), ("Accept", "*/*")]
    assert keep_headers(headers, REQUEST_HEADER_ALLOWLIST) == (
        {"accept": "*/*", "content-type": "application/json"},
        0,
    )


# -- every kind, planted everywhere a recording can see it -----------------------------------------

SHAPES = {
    "anthropic-key": "sk-ant-api03-" + "Aa0" * 10,
    "openai-key": "sk-proj-" + "Bb1" * 10,
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "github-token": "ghp_" + "d" * 36,
    "google-api-key": "AIza" + "e" * 35,
    "slack-token": "xoxb-1234567890-abcdefghij",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM",
    "bearer": "Bearer " + "f" * 24,
    "private-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "project-pattern": "itk_" + "Z9" * 12,
}
PYPROJECT = '[tool.harness.redact]\npatterns = { project-pattern = "itk_[A-Za-z0-9]{24}" }\nfields = ["customer_ref"]\n'


def secret_of(kind: str) -> str:
    return SHAPES[kind]


def plant(kind: str) -> tuple[dict[str, str], dict[str, str], dict[str, object], dict[str, str]]:
    """Request headers, query, body and response headers that each carry the secret of ``kind``."""
    secret = secret_of(kind)
    one_line = secret.replace("\n", " ")  # a header value cannot hold a line break
    headers = {
        # Allowlisted headers are kept, so their values are scrubbed by shape...
        "anthropic-beta": f"tools-2024 {one_line}",
        # ...and credential headers are never kept at all.
        "x-api-key": one_line,
        "authorization": f"Bearer {one_line}",
        "api-key": "0123456789abcdef0123456789abcdef",
        "cookie": f"session={one_line}",
    }
    query = {"note": f"see {secret}", "key": "plain-google-style-key", "api-version": "2024-06-01"}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": f"my key is {secret}, keep it"}],
        "metadata": {"api_key": "plain-value-1234", "password": "hunter2hunter2", "customer_ref": "C-778899"},
    }
    response_headers = {"x-request-id": f"req_{one_line}", "set-cookie": f"session={one_line}; HttpOnly"}
    return headers, query, body, response_headers


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_a_secret_planted_everywhere_never_reaches_the_file_and_the_recording_replays(
    kind, tmp_path, fake_provider, monkeypatch
):
    import httpx2

    from harness import Cassette, RedactionConfig, Redactor
    from tests.conftest import json_canned

    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    redactor = Redactor.for_project(tmp_path)
    assert redactor.config == RedactionConfig.from_pyproject(tmp_path / "pyproject.toml")
    headers, query, body, response_headers = plant(kind)
    reply = {"echo": f"you said {secret_of(kind)}", "token_count": 3}

    def call(cassette: Cassette) -> object:
        with httpx2.Client(transport=cassette.transport(), base_url=fake_provider.url) as http:
            response = http.post("/v1/messages", params=query, headers=headers, json=body)
            return response.json()

    fake_provider.queue.append(json_canned(reply, headers=response_headers))
    path = tmp_path / "secret.ndjson"
    recording = Cassette(path, mode="once", environ={}, redactor=redactor)
    assert call(recording) == reply
    recording.finish()

    text = path.read_text()
    secret = secret_of(kind)
    for fragment in {
        secret,
        secret.split()[-1],
        "plain-value-1234",
        "hunter2hunter2",
        "plain-google-style-key",
        "C-778899",
    }:
        assert fragment not in text
    assert "0123456789abcdef0123456789abcdef" not in text
    assert "<redacted:" in text

    replay = Cassette(path, mode="none", environ={}, redactor=Redactor.for_project(tmp_path))
    replayed = call(replay)
    replay.finish()
    assert isinstance(replayed, dict) and replayed["token_count"] == 3


def test_a_surviving_secret_shape_removes_the_file_and_fails_without_printing_it(tmp_path):
    from harness import SecretLeak
    from harness.record.recorder import TranscriptRecorder
    from harness.transcript import TranscriptHeader

    secret = SHAPES["anthropic-key"]
    header = TranscriptHeader(provider="anthropic", protocol="anthropic.messages", version="unknown", scenario="x")
    path = tmp_path / "leak.ndjson"
    recorder = TranscriptRecorder(path, header)
    # Object keys are field names and are kept; a key shaped like a secret slips past redaction.
    recorder.inbound({"kind": "http.body", "body": {secret: 1}})
    with pytest.raises(SecretLeak) as error:
        recorder.close()
    assert not path.exists()
    assert "line 2 (anthropic-key)" in str(error.value)
    assert secret not in str(error.value)


def test_machine_paths_become_placeholders_longest_first():
    from harness import Redactor

    redactor = Redactor(placeholders={"<home>": "/home/me", "<workspace>": "/home/me/project"})
    assert (
        redactor.text("open /home/me/project/a.py and /home/me/.bashrc") == "open <workspace>/a.py and <home>/.bashrc"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"colour": 1}, "unknown key(s) colour"),
        ({"patterns": {"x": "("}}, "patterns.x: not a valid regex"),
        ({"patterns": {"x": "a*"}}, "patterns.x: the regex matches the empty string"),
        ({"patterns": {"bad kind": "a"}}, "kind 'bad kind' may only use"),
        ({"fields": "api"}, "fields: expected a list of names"),
    ],
    ids=["unknown-key", "bad-regex", "empty-match", "bad-kind", "fields-not-a-list"],
)
def test_a_malformed_redact_table_is_a_located_usage_error(table, message):
    from harness import RedactionConfig, UsageError

    with pytest.raises(UsageError, match=re.escape(message)):
        RedactionConfig.from_mapping(table)


def test_redacted_markers_match_only_their_kind():
    from harness.record.redact import redacted_pattern

    pattern = redacted_pattern("key <redacted:anthropic-key> end")
    assert pattern is not None
    assert pattern.fullmatch("key sk-ant-api03-abcdefghijkl end")
    assert pattern.fullmatch("key <redacted:anthropic-key> end")
    assert not pattern.fullmatch("key AKIAIOSFODNN7EXAMPLE end")
    assert redacted_pattern("no marker") is None
