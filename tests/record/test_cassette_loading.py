"""Cassette loading: which loader reads which layout, body decoding and shape errors."""

from __future__ import annotations

import gzip
import textwrap

import pytest
import yaml

from harness.errors import ImportSourceError
from harness.record.cassette import load_cassette

STANDARD = textwrap.dedent(
    """\
    interactions:
    - request:
        body: '{"model": "claude-x"}'
        headers:
          Anthropic-Version:
          - '2023-06-01'
        method: POST
        uri: https://api.anthropic.com/v1/messages
      response:
        body:
          string: 'event: ping

            data: {}


            '
        headers:
          Content-Type:
          - text/event-stream
        status:
          code: 200
          message: OK
    version: 1
    """
)


def test_standard_cassette_is_read_by_vcrpy():
    cassette = load_cassette(STANDARD, name="s.yaml")
    assert cassette.loader == "vcrpy"
    (interaction,) = cassette.interactions
    assert interaction.request.body == {"model": "claude-x"}
    assert interaction.request.headers == (("Anthropic-Version", "2023-06-01"),)
    assert interaction.body == "event: ping\ndata: {}\n\n"


def test_parsed_body_cassette_falls_back_to_safe_load():
    text = STANDARD.replace("""    body: '{"model": "claude-x"}'\n""", "    parsed_body:\n      model: claude-x\n")
    cassette = load_cassette(text, name="p.yaml")
    assert cassette.loader.startswith("yaml.safe_load")
    assert cassette.interactions[0].request.body == {"model": "claude-x"}


def test_gzip_body_with_surviving_content_encoding_is_decompressed():
    data = {
        "interactions": [
            {
                "request": {"body": None, "headers": {}, "method": "POST", "uri": "https://x/v1/messages"},
                "response": {
                    "body": {"string": gzip.compress(b'{"ok": true}', mtime=0)},
                    "headers": {"Content-Encoding": ["gzip"], "Content-Type": ["application/json"]},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
    cassette = load_cassette(yaml.safe_dump(data), name="g.yaml")
    assert cassette.interactions[0].body == '{"ok": true}'


def test_invalid_yaml_names_file_and_line():
    with pytest.raises(ImportSourceError, match=r"^bad\.yaml:3: not valid YAML"):
        load_cassette("interactions:\n- request:\n  - : [\n", name="bad.yaml")


def test_missing_status_code_names_the_field():
    text = STANDARD.replace("      code: 200\n", "")
    with pytest.raises(ImportSourceError, match=r"s\.yaml: interactions\[0\]\.response\.status\.code: expected"):
        load_cassette(text, name="s.yaml")
