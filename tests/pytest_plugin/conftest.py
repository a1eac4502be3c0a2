"""A throwaway project for pytester: one bundled transcript, scenario files, goldens.

Every test builds its project under ``pytester.path`` and runs pytest there, in process where
possible, so nothing depends on the working directory of the outer run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb  # noqa: F401
import pytest
import vl_convert  # noqa: F401

# Extension modules load once per process. An in-process pytester run forgets the modules it
# imported, so one the report first imports inside such a run would be loaded again by the next
# (vl_convert refuses: "may only be initialized once per interpreter process"). Imported here,
# they outlive every run.

REPO = Path(__file__).resolve().parents[2]
PLAIN_TEXT = REPO / "transcripts" / "anthropic" / "pydantic-ai-cassettes" / "anthropic__plain_text_stream.ndjson"
TRANSCRIPT = "transcripts/plain_text.ndjson"
QUESTION = "What is 1+1? Answer with just the number."

SCENARIO_YAML = """\
name: {name}
transcript: {transcript}
request:
  method: POST
  path: /v1/messages
  query: {{beta: "true"}}
  headers: {{accept: application/json, content-type: application/json}}
  params: {{max_tokens: 32000, model: claude-sonnet-4-5, stream: true}}
commands:
  - {{type: thread.create, thread_id: t1}}
  - {{type: message.dispatch, thread_id: t1, text: "{question}"}}
expect: {{status: {status}, stop_reason: end_turn, golden: {golden}}}
"""

SCENARIO_TOML = """\
name = "{name}"
transcript = "{transcript}"
commands = [
  {{type = "thread.create", thread_id = "t1"}},
  {{type = "message.dispatch", thread_id = "t1", text = "{question}"}},
]
[request]
method = "POST"
path = "/v1/messages"
query = {{beta = "true"}}
headers = {{accept = "application/json", content-type = "application/json"}}
params = {{max_tokens = 32000, model = "claude-sonnet-4-5", stream = true}}
[expect]
status = "{status}"
stop_reason = "end_turn"
golden = {golden}
"""

# Plugins the inner runs do not need. Hypothesis's is the expensive one: pytester forgets the
# modules an in-process run imported, and hypothesis re-imports (and assertion-rewrites) its
# whole package at every terminal summary.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio")


@dataclass
class Project:
    """A project under ``pytester.path`` with the plain-text transcript at ``transcripts/``."""

    pytester: pytest.Pytester

    @property
    def root(self) -> Path:
        return self.pytester.path

    def scenario(
        self,
        name: str = "plain_text",
        *,
        status: str = "completed",
        golden: bool = True,
        where: str = "scenarios",
        suffix: str = ".yaml",
    ) -> Path:
        """Write a scenario replaying the plain-text transcript; ``golden=False`` opts out of goldens."""
        path = self.root / where / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        transcript = Path(os.path.relpath(self.root / TRANSCRIPT, path.parent)).as_posix()
        template = SCENARIO_TOML if suffix == ".toml" else SCENARIO_YAML
        flag = "true" if golden else "false"
        path.write_text(
            template.format(name=name, transcript=transcript, question=QUESTION, status=status, golden=flag)
        )
        return path

    def golden(self, name: str) -> Path:
        return self.root / "fixtures" / "goldens" / f"{name}.ndjson"

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest(*QUIET_PLUGINS, *args)

    @staticmethod
    def assert_no_traceback(result: pytest.RunResult) -> None:
        """The failure text is the harness's own: no Python frames, from the harness or elsewhere."""
        output = result.stdout.str()
        assert "Traceback" not in output
        assert "harness/scenario/runner.py" not in output
        assert "harness/pytest_plugin" not in output
        assert "def runtest" not in output


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    target = pytester.path / TRANSCRIPT
    target.parent.mkdir(parents=True)
    shutil.copyfile(PLAIN_TEXT, target)
    return Project(pytester)
