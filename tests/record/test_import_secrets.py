"""`harness import` never writes a secret, and its error messages never quote one.

Each case plants one kind of credential, built from a fake but correctly shaped value, where
recorded traffic carries it (the request URL's query, request headers, the request body, response
headers, SSE data), runs the real import on a vcrpy cassette (and, for SSE data, on a raw SSE
capture too), and checks that none of the secret's bytes reach the written transcript and that
the marker replacing it names a kind. Negative cases check that text which only looks close is
kept as it was.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from harness.cli import main
from harness.errors import ImportSourceError
from harness.record import convert_source, import_source
from harness.record.redact import Redactor, SecretLeak, redact_text, scrub, scrub_json
from harness.replay.matcher import short_json
from harness.transcript import read_transcript

# --- fake but correctly shaped secrets ---------------------------------------------------------

GOOGLE_API_KEY = "AIza" + "SyFAKE0aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT"[:35]
AZURE_KEY = "3f2a9c4e8b1d7f6a0c5e9b2d4f8a1c3e"  # Azure OpenAI: 32 hex characters
GOOGLE_OAUTH = "ya29.a0AfB_byFAKE" + "x1Y2z3" * 10
BASIC = base64.b64encode(b"svc-user:Fake-Passw0rd!").decode()
SHORT_OPENAI_KEY = "sk-" + "Fake0123456789ab"  # 19 characters in all
ANTHROPIC_ADMIN_KEY = "xsk-ant-admin01-" + "Fake0123456789abcdef-_XY"
BEARER_TOKEN = "Zz9" * 8
SAS_SIGNATURE = "Zk9vYmFyRmFrZVNpZ25hdHVyZQ+/="  # base64, so URL-encoded in a query

assert len(GOOGLE_API_KEY) == 39
assert len(SHORT_OPENAI_KEY) == 19
assert re.fullmatch(r"[0-9a-f]{32}", AZURE_KEY)


@dataclass(frozen=True)
class Plant:
    """One secret and where it is planted; ``marker`` is the kind the import must name for it
    (None when its carrier, a credential header, is dropped whole)."""

    secret: str
    marker: str | None
    query: str | None = None
    request_header: tuple[str, str] | None = None
    body: dict[str, Any] | None = None
    response_header: tuple[str, str] | None = None
    sse: dict[str, Any] | None = None

    def fragments(self) -> set[str]:
        """The secret as it could appear in a file: raw, URL-encoded, JSON-escaped, its second half."""
        found = {self.secret, quote(self.secret, safe=""), json.dumps(self.secret)[1:-1]}
        if len(self.secret) >= 16:
            found.add(self.secret[len(self.secret) // 2 :])
        return found


def said(text: str) -> dict[str, Any]:
    """A request body whose user message is ``text``."""
    return {"messages": [{"role": "user", "content": text}]}


def streamed(text: str) -> dict[str, Any]:
    """SSE data of a text delta saying ``text``."""
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


PLANTS: dict[str, Plant] = {
    # URL query strings: a credential-named parameter loses its value whatever its shape.
    "query-key-google-api-key": Plant(GOOGLE_API_KEY, "secret", query=f"key={GOOGLE_API_KEY}"),
    "query-api-key-azure": Plant(AZURE_KEY, "secret", query=f"api-key={AZURE_KEY}"),
    "query-access-token-google-oauth": Plant(GOOGLE_OAUTH, "secret", query=f"access_token={GOOGLE_OAUTH}"),
    "query-api_key": Plant("plain-api-key-value-77", "secret", query="api_key=plain-api-key-value-77"),
    "query-apiKey": Plant("camelCaseKeyValue88", "secret", query="apiKey=camelCaseKeyValue88"),
    "query-token": Plant("opaque-session-token-99", "secret", query="token=opaque-session-token-99"),
    "query-sig-azure-sas": Plant(SAS_SIGNATURE, "secret", query=f"sv=2024-01-01&sig={quote(SAS_SIGNATURE, safe='')}"),
    "query-client_secret": Plant("client-secret-value-55", "secret", query="client_secret=client-secret-value-55"),
    "query-code-oauth": Plant("4/0AeaYSHFakeAuthCode", "secret", query="code=4%2F0AeaYSHFakeAuthCode"),
    "query-auth-firebase": Plant("firebaseFakeAuth123", "secret", query="auth=firebaseFakeAuth123"),
    "query-subscription-key-azure-apim": Plant(AZURE_KEY, "secret", query=f"subscription-key={AZURE_KEY}"),
    "query-x-amz-signature": Plant(
        "a1b2c3d4e5f6a7b8c9d0" * 3, "secret", query=f"X-Amz-Signature={'a1b2c3d4e5f6a7b8c9d0' * 3}"
    ),
    # Request headers: credential headers are dropped, a key in a kept header's parameter redacted.
    "header-authorization-basic": Plant(BASIC, None, request_header=("authorization", f"Basic {BASIC}")),
    "header-x-goog-api-key": Plant(GOOGLE_API_KEY, None, request_header=("x-goog-api-key", GOOGLE_API_KEY)),
    "header-api-key-azure": Plant(AZURE_KEY, None, request_header=("api-key", AZURE_KEY)),
    "header-content-type-key-parameter": Plant(
        "plainHeaderParamSecret42",
        "secret",
        request_header=("content-type", "application/json; key=plainHeaderParamSecret42"),
    ),
    "header-anthropic-beta-google-api-key": Plant(
        GOOGLE_API_KEY, "google-api-key", request_header=("anthropic-beta", f"tools-2024-04-04,{GOOGLE_API_KEY}")
    ),
    # Request bodies: credential-named fields, and secrets inside ordinary text.
    "body-password": Plant("Body-Passw0rd-1", "secret", body={"password": "Body-Passw0rd-1"}),
    "body-passwd": Plant("Body-Passwd-22", "secret", body={"auth": {"passwd": "Body-Passwd-22"}}),
    "body-secret": Plant("body-secret-333", "secret", body={"secret": "body-secret-333"}),
    "body-client_secret": Plant("body-client-secret-4", "secret", body={"client_secret": "body-client-secret-4"}),
    "body-api_key": Plant("body-api-key-55555", "secret", body={"api_key": "body-api-key-55555"}),
    "body-apiKey": Plant("bodyCamelApiKey666", "secret", body={"config": [{"apiKey": "bodyCamelApiKey666"}]}),
    "body-access_token": Plant(GOOGLE_OAUTH, "secret", body={"access_token": GOOGLE_OAUTH}),
    "body-refresh_token": Plant("1//0gFakeRefreshToken", "secret", body={"refresh_token": "1//0gFakeRefreshToken"}),
    "body-azure-openai-api-key-field": Plant(AZURE_KEY, "secret", body={"azure_openai_api_key": AZURE_KEY}),
    "body-basic-auth-in-text": Plant(
        BASIC, "basic-auth", body=said(f"curl -H 'Authorization: Basic {BASIC}' https://intranet.example")
    ),
    "body-google-api-key-in-text": Plant(GOOGLE_API_KEY, "google-api-key", body=said(f"my key is {GOOGLE_API_KEY}.")),
    "body-url-key-in-text": Plant(
        "plainUrlKey1234",
        "secret",
        body=said("fetch https://maps.googleapis.com/maps/api/geocode/json?address=Oslo&key=plainUrlKey1234 now"),
    ),
    "body-url-password-in-text": Plant(
        "Fake-Url-Passw0rd",
        "url-credentials",
        body=said("clone https://deploy:Fake-Url-Passw0rd@git.example.com/r.git"),
    ),
    "body-short-openai-key": Plant(SHORT_OPENAI_KEY, "openai-key", body=said(f"use {SHORT_OPENAI_KEY} for tests")),
    "body-anthropic-admin-key": Plant(ANTHROPIC_ADMIN_KEY, "anthropic-key", body=said(f"admin: {ANTHROPIC_ADMIN_KEY}")),
    "body-tool-arguments-password": Plant(
        "Tool-Arg-Passw0rd",
        "secret",
        body={
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "login", "arguments": '{"password": "Tool-Arg-Passw0rd"}'}}],
                }
            ]
        },
    ),
    "body-azure-key-assignment": Plant(AZURE_KEY, "secret", body=said(f"AZURE_OPENAI_API_KEY={AZURE_KEY}")),
    # Response headers that echo a key.
    "response-header-x-request-id-google-api-key": Plant(
        GOOGLE_API_KEY, "google-api-key", response_header=("x-request-id", f"req_{GOOGLE_API_KEY}")
    ),
    "response-header-x-request-id-azure-key": Plant(
        AZURE_KEY, "secret", response_header=("x-request-id", f"api-key={AZURE_KEY}")
    ),
    "response-header-request-id-bearer": Plant(
        BEARER_TOKEN, "bearer", response_header=("request-id", f"Bearer {BEARER_TOKEN}")
    ),
    # SSE data (in the cassette's response body and in a raw SSE capture).
    "sse-google-api-key": Plant(GOOGLE_API_KEY, "google-api-key", sse=streamed(f"try {GOOGLE_API_KEY}")),
    "sse-azure-key-in-header-text": Plant(AZURE_KEY, "secret", sse=streamed(f"send api-key: {AZURE_KEY}")),
    "sse-bearer": Plant(BEARER_TOKEN, "bearer", sse=streamed(f"Authorization: Bearer {BEARER_TOKEN}")),
    "sse-basic-auth": Plant(BASIC, "basic-auth", sse=streamed(f"Authorization: Basic {BASIC}")),
    "sse-google-oauth-token": Plant(GOOGLE_OAUTH, "google-oauth-token", sse=streamed(f"token {GOOGLE_OAUTH} ok")),
    "sse-url-access-token": Plant(
        GOOGLE_OAUTH,
        "google-oauth-token",
        sse=streamed(f"GET https://www.googleapis.com/drive/v3/files?access_token={GOOGLE_OAUTH}"),
    ),
    "sse-password-json-in-text": Plant("Sse-Passw0rd-1", "secret", sse=streamed('{"password": "Sse-Passw0rd-1"}')),
    "sse-short-openai-key": Plant(SHORT_OPENAI_KEY, "openai-key", sse=streamed(f"key {SHORT_OPENAI_KEY}")),
    "sse-anthropic-admin-key": Plant(ANTHROPIC_ADMIN_KEY, "anthropic-key", sse=streamed(ANTHROPIC_ADMIN_KEY)),
    "sse-client-secret-field": Plant(
        "sse-client-secret-7", "secret", sse={"type": "ping", "client_secret": "sse-client-secret-7"}
    ),
}


# --- sources ----------------------------------------------------------------------------------


def sse_text(extra: dict[str, Any] | None = None) -> str:
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {"id": "m1"}})]
    if extra is not None:
        events.append((str(extra["type"]), extra))
    events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def vcr_cassette(
    *,
    query: str | None = None,
    request_header: tuple[str, str] | None = None,
    body: dict[str, Any] | None = None,
    response_header: tuple[str, str] | None = None,
    sse: dict[str, Any] | None = None,
    uri: str = "https://api.anthropic.com/v1/messages?beta=true",
) -> str:
    """A one-interaction cassette in vcrpy's own layout (request body as JSON text)."""
    headers = {"content-type": ["application/json"], "anthropic-version": ["2023-06-01"]}
    if request_header is not None:
        headers[request_header[0]] = [request_header[1]]
    response_headers = {"content-type": ["text/event-stream; charset=utf-8"], "request-id": ["req_1"]}
    if response_header is not None:
        response_headers[response_header[0]] = [response_header[1]]
    interaction = {
        "request": {
            "body": json.dumps({"model": "claude-x", "stream": True, **(body or {})}),
            "headers": headers,
            "method": "POST",
            "uri": uri + (f"&{query}" if query else ""),
        },
        "response": {
            "body": {"string": sse_text(sse)},
            "headers": response_headers,
            "status": {"code": 200, "message": "OK"},
        },
    }
    return yaml.safe_dump({"interactions": [interaction], "version": 1}, sort_keys=True)


def imported(tmp_path: Path, name: str, text: str, **options: Any) -> tuple[str, int]:
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    out = tmp_path / f"{name}.ndjson"
    result = import_source(source, out, **options)
    written = out.read_text(encoding="utf-8")
    read_transcript(out)  # still a valid transcript
    return written, result.redactions


MARKER = re.compile(r"<redacted(?::([A-Za-z0-9_.\-]+))?>")


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_a_planted_secret_never_reaches_the_imported_transcript(kind, tmp_path):
    plant = PLANTS[kind]
    cassette = vcr_cassette(
        query=plant.query,
        request_header=plant.request_header,
        body=plant.body,
        response_header=plant.response_header,
        sse=plant.sse,
    )
    outputs = [imported(tmp_path, "c.yaml", cassette)]
    if plant.sse is not None:
        outputs.append(imported(tmp_path, "s.sse.txt", sse_text(plant.sse), protocol="anthropic.messages"))
    for written, redactions in outputs:
        for fragment in plant.fragments():
            assert fragment not in written
        markers = MARKER.findall(written)
        assert all(markers), "every marker names its kind"
        if plant.marker is not None:
            assert f"<redacted:{plant.marker}>" in written
            assert redactions >= 1
            assert json.loads(written.splitlines()[0])["metadata"]["redactions"] == redactions


def test_every_kind_planted_at_once_through_the_cli(tmp_path, capsys):
    body: dict[str, Any] = {}
    queries = []
    for plant in PLANTS.values():
        body.update(plant.body or {})
        if plant.query:
            queries.append(plant.query)
    cassette = vcr_cassette(query="&".join(queries), body=body)
    source = tmp_path / "all.yaml"
    source.write_text(cassette, encoding="utf-8")
    out = tmp_path / "all.ndjson"
    assert main(["import", str(source), "-o", str(out)]) == 0
    written = out.read_text(encoding="utf-8")
    for plant in PLANTS.values():
        if plant.body or plant.query:
            for fragment in plant.fragments():
                assert fragment not in written
    printed = capsys.readouterr()
    for plant in PLANTS.values():
        assert plant.secret not in printed.out + printed.err


def test_one_redactor_counts_the_whole_import(tmp_path):
    plant = PLANTS["body-password"]
    source = tmp_path / "c.yaml"
    source.write_text(vcr_cassette(body=plant.body, sse=PLANTS["sse-google-api-key"].sse), encoding="utf-8")
    redactor = Redactor()
    result = import_source(source, tmp_path / "out.ndjson", redactor=redactor)
    assert result.redactions == redactor.total == 2
    assert redactor.counts == {"secret": 1, "google-api-key": 1}


def test_a_secret_shaped_object_key_removes_the_written_file(tmp_path):
    # Object keys are field names and are kept, so a key shaped like a secret survives redaction;
    # the scan after writing catches it, as it does for a live recording.
    source = tmp_path / "c.yaml"
    source.write_text(vcr_cassette(body={"metadata": {GOOGLE_API_KEY: 1}}), encoding="utf-8")
    out = tmp_path / "out.ndjson"
    with pytest.raises(SecretLeak) as caught:
        import_source(source, out)
    assert not out.exists()
    assert "(google-api-key)" in str(caught.value)
    assert GOOGLE_API_KEY not in str(caught.value)


# --- error messages ---------------------------------------------------------------------------


def message_of(tmp_path: Path, name: str, text: str, **options: Any) -> str:
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    with pytest.raises(ImportSourceError) as caught:
        convert_source(source, **options)
    return str(caught.value)


def test_an_unrecognised_url_is_quoted_without_its_credentials(tmp_path):
    uri = f"https://svc:Fake-Url-Passw0rd@llm.example.com/v2/generate?key={GOOGLE_API_KEY}&api_key=plainUrlApiKey55"
    message = message_of(tmp_path, "c.yaml", vcr_cassette(uri=uri))
    assert "cannot tell the protocol from the recorded URLs" in message
    assert "llm.example.com/v2/generate" in message
    for secret in (GOOGLE_API_KEY, "plainUrlApiKey55", "Fake-Url-Passw0rd"):
        assert secret not in message
    assert "key=<redacted:" in message
    assert "api_key=<redacted:secret>" in message


def test_a_non_json_sse_line_is_quoted_without_its_bearer_token(tmp_path):
    text = f"event: ping\ndata: Authorization: Bearer {BEARER_TOKEN}\n\n"
    message = message_of(tmp_path, "s.sse.txt", text, protocol="anthropic.messages")
    assert "expected JSON or [DONE]" in message
    assert BEARER_TOKEN[:8] not in message
    assert "<redacted:bearer>" in message


def test_a_secret_past_the_quoting_limit_is_not_cut_into_view(tmp_path):
    # The quote is cut at 120 characters: a secret redacted only after the cut would leave its
    # first characters in the message.
    text = "data: " + "x" * 100 + f" key {GOOGLE_API_KEY} tail\n\n"
    message = message_of(tmp_path, "s.sse.txt", text, protocol="anthropic.messages")
    assert GOOGLE_API_KEY[:10] not in message


def test_a_first_line_holding_a_bearer_token_is_quoted_without_it(tmp_path):
    message = message_of(tmp_path, "capture.txt", f"Authorization: Bearer {BEARER_TOKEN}\n\nhello\n")
    assert "unrecognised import source" in message
    assert BEARER_TOKEN[:8] not in message


def test_a_broken_payload_line_is_quoted_without_its_password(tmp_path):
    message = message_of(tmp_path, "p.ndjson", '{"password": "Payload-Passw0rd", \n', protocol="anthropic.messages")
    assert "expected one JSON data payload" in message
    assert "Payload-Passw0rd" not in message


def test_a_malformed_cassette_field_is_quoted_without_its_secret(tmp_path):
    cassette = {
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.anthropic.com/v1/messages",
                    "headers": {"x-api-key": [[f"{GOOGLE_API_KEY}"]]},
                    "parsed_body": {},
                },
                "response": {"status": {"code": 200}, "headers": {}, "body": {"string": ""}},
            }
        ]
    }
    message = message_of(tmp_path, "c.yaml", yaml.safe_dump(cassette))
    assert "expected a header value" in message
    assert GOOGLE_API_KEY not in message


def test_a_malformed_cassette_field_shows_no_prefix_of_a_key_cut_at_the_quoting_limit(tmp_path):
    # The key starts before the 80-character cut of the quoted value: cutting first would leave
    # its first characters showing; redacting first leaves only the marker's start.
    cassette = {"interactions": "x" * 48 + " " + ANTHROPIC_ADMIN_KEY}
    message = message_of(tmp_path, "c.yaml", yaml.safe_dump(cassette))
    assert "expected a vcrpy cassette" in message
    assert ANTHROPIC_ADMIN_KEY[:10] not in message


def test_the_cli_prints_a_failed_import_without_the_secret(tmp_path, capsys):
    source = tmp_path / "c.yaml"
    source.write_text(vcr_cassette(uri=f"https://llm.example.com/v2/generate?key={GOOGLE_API_KEY}"), encoding="utf-8")
    assert main(["import", str(source), "-o", str(tmp_path / "out.ndjson")]) == 2
    printed = capsys.readouterr()
    assert "cannot tell the protocol" in printed.err
    assert GOOGLE_API_KEY not in printed.out + printed.err


def test_short_json_in_mismatch_messages_redacts_names_and_shapes():
    shown = short_json(
        {
            "password": "hunter2hunter2",
            "note": f"see https://x.example/?key={GOOGLE_API_KEY}",
            "args": '{"api_key": "plainArgKey99"}',
            "auth": f"Basic {BASIC}",
        }
    )
    for secret in ("hunter2hunter2", GOOGLE_API_KEY, "plainArgKey99", BASIC):
        assert secret not in shown
    assert '"password":"<redacted:secret>"' in shown
    assert "<redacted:basic-auth>" in shown


def test_scrub_helpers_do_not_count_and_name_kinds():
    assert scrub(f"Bearer {BEARER_TOKEN}") == "<redacted:bearer>"
    assert scrub_json({"client_secret": "x", "n": 1}) == {"client_secret": "<redacted:secret>", "n": 1}


# --- the shapes, both directions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a {SHORT_OPENAI_KEY} b", "a <redacted:openai-key> b"),
        ("sk-or-v1-" + "0a" * 32, "<redacted:openai-key>"),
        ("sk-proj-abcdefghijklmnop", "<redacted:openai-key>"),
        (ANTHROPIC_ADMIN_KEY, "<redacted:anthropic-key>"),
        (f"Authorization: Basic {BASIC}", "Authorization: <redacted:basic-auth>"),
        (f"x {GOOGLE_OAUTH}", "x <redacted:google-oauth-token>"),
        ("https://u:p4ss@h.example/", "https://<redacted:url-credentials>@h.example/"),
        ("redis://:Fake-Passw0rd@cache:6379/0", "redis://<redacted:url-credentials>@cache:6379/0"),
        ("application/json; key=abc123", "application/json; key=<redacted:secret>"),
        ("/v1?x=1&token=abc", "/v1?x=1&token=<redacted:secret>"),
        ("--api-key=hunter2", "--api-key=<redacted:secret>"),
        ("password: hunter2hunter2", "password: <redacted:secret>"),
        ('password = "hunter2"', 'password = "<redacted:secret>"'),
        (f"api-key: {AZURE_KEY}", "api-key: <redacted:secret>"),
        (f"DB_PASSWORD={AZURE_KEY}", "DB_PASSWORD=<redacted:secret>"),
        (f"?key={GOOGLE_API_KEY}", "?key=<redacted:google-api-key>"),
    ],
    ids=[
        "short-openai-key",
        "openrouter-style-key",
        "project-key",
        "anthropic-admin-key",
        "basic-credentials",
        "google-oauth-token",
        "url-password",
        "url-password-without-user",
        "header-parameter",
        "url-token-parameter",
        "cli-flag",
        "yaml-style-password",
        "code-literal-password",
        "header-style-azure-key",
        "env-style-password-suffix",
        "query-key-names-its-shape",
    ],
)
def test_new_shapes_and_names_are_redacted(text, expected):
    clean, count = redact_text(text)
    assert clean == expected
    assert count == 1


CLOSE_BUT_ORDINARY = [
    "scikit-learn is imported as sk-learn, not sklearn",
    "sk-learn-compatible-estimators",
    "sk-learn-0-24-2-release-notes",
    "task-0123456789abcdefghij",
    "risk-assessment-for-the-quarterly-report",
    "xsk-ant",
    "Basic authentication is described in RFC 7617",
    "Basic internationalization",
    "Basic information",
    "Bearer authentication",
    "the key=value format",
    "password: required",
    "set password = read_password()",
    "api_key=os.environ['API_KEY']",
    "api_key: <your key here>",
    "max_tokens=1024",
    "x-request-id: req_0123456789abcdef0123456789abcdef",
    "the token is valid and access_token is required",
    "AIza is how a Google key starts; ya29. an OAuth token",
    "monkey=banana&donkey=carrot",
    "https://example.com/search?q=secret+santa&page=2",
    "https://user@example.com/ and git@github.com:org/repo.git",
    "Time: 12:30:45",
    "application/json; charset=utf-8",
    "ANTHROPIC_API_KEY=sk-ant-... python -m pytest",
    "export OPENAI_API_KEY=$OPENAI_API_KEY",
    "password=********",
]


@pytest.mark.parametrize("text", CLOSE_BUT_ORDINARY)
def test_ordinary_text_close_to_a_secret_is_kept(text):
    assert redact_text(text) == (text, 0)


def test_ordinary_text_and_fields_survive_an_import_unchanged(tmp_path):
    body = {
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text} for text in CLOSE_BUT_ORDINARY],
        "metadata": {"password_hint": "the dog's name", "has_api_key": True},
    }
    sse = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQBCkgIARABGAIiQFakeSignature0123"},
        "logprobs": [{"token": "Hello", "logprob": -0.1}],
    }
    cassette = vcr_cassette(
        query="api-version=2024-06-01",
        response_header=("x-request-id", "req_0123456789abcdef0123456789abcdef"),
        body=body,
        sse=sse,
    )
    source = tmp_path / "c.yaml"
    source.write_text(cassette, encoding="utf-8")
    out = tmp_path / "out.ndjson"
    result = import_source(source, out)
    assert result.redactions == 0
    entries = read_transcript(out).entries
    request = entries[0].frame
    assert request["query"] == {"api-version": "2024-06-01", "beta": "true"}
    assert request["body"]["messages"] == body["messages"]
    assert request["body"]["metadata"] == body["metadata"]
    assert entries[1].frame["headers"]["x-request-id"] == "req_0123456789abcdef0123456789abcdef"
    assert entries[3].frame["data"] == sse
