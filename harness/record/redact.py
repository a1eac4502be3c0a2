"""Keep secrets out of every transcript the harness writes, at write time.

Four layers, all on by default (``docs/your-code.md`` lists every kind):

1. **Headers** are copied only when their lower-cased name is on an allowlist
   (:data:`REQUEST_HEADER_ALLOWLIST`, :data:`RESPONSE_HEADER_ALLOWLIST`, plus a project's own
   additions). Credentials (``authorization``, ``x-api-key``, ``api-key``, ``cookie``,
   ``set-cookie``, ``proxy-authorization``, ...) are never on it.
2. **Names that mean a secret**: the value of a query parameter or JSON field whose name is one of
   :data:`SECRET_NAMES` (``api_key``, ``apiKey``, ``client_secret``, ``password``, ``key`` in a
   query string, ...) becomes ``<redacted:secret>`` whatever it looks like.
3. **Known key shapes** anywhere in any string (:data:`SECRET_SHAPES`: Anthropic, OpenAI, AWS,
   GitHub, Google, Slack keys, bearer tokens, JWTs, private-key blocks) become
   ``<redacted:KIND>``; only the match is replaced, the rest of the string survives.
4. **A project's own patterns** from ``[tool.harness.redact]`` in ``pyproject.toml``.

Machine paths may be replaced by declared placeholders (``<workspace>``, ``<home>``), longest
value first, so a recording made in one checkout replays in another.

The matcher treats ``<redacted:KIND>`` in a recorded frame as "any value of that kind"
(:func:`redacted_pattern`), so a recording whose prompt contained a key still replays against the
real input. After a recording is written, :func:`check_written` scans the file and removes it if
a known shape survived.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError

REDACTED = "<redacted>"
"""The kind-less marker older imports wrote; it matches a value of any known kind."""

REQUEST_HEADER_ALLOWLIST: frozenset[str] = frozenset(
    {"anthropic-version", "anthropic-beta", "content-type", "accept", "openai-beta"}
)
"""Request headers worth keeping: they change what the provider does and hold no secret."""

RESPONSE_HEADER_ALLOWLIST: frozenset[str] = frozenset({"content-type", "request-id", "x-request-id"})
"""Response headers worth keeping: the stream's media type and the provider's request id."""

SECRET_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
        "openai-organization",
        "openai-project",
        "x-amz-security-token",
    }
)
"""Headers that carry credentials: never kept, even when a project adds them to its allowlist."""

# The left look-behind keeps ordinary words from matching: without it "risk-assessment-for-the-
# quarterly-report" would contain "sk-" followed by 20+ key characters. Bearer tokens need 16+
# characters so that prose such as "Bearer authentication" is left alone; real tokens (API keys,
# OAuth tokens, JWTs) are far longer.
SECRET_SHAPES: tuple[tuple[str, str], ...] = (
    ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ("anthropic-key", r"(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_\-]{10,}"),
    ("openai-key", r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{20,}"),
    ("aws-access-key", r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])"),
    ("github-token", r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("google-api-key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}"),
    ("slack-token", r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("jwt", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("bearer", r"(?<![A-Za-z0-9])(?i:bearer)\s+[A-Za-z0-9\-._~+/]{16,}=*"),
)
"""``(kind, regex)``: what counts as a secret inside any string, whatever its field is called."""

SECRET_NAMES: frozenset[str] = frozenset(
    {
        "apikey",
        "xapikey",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "bearertoken",
        "sessiontoken",
        "clientsecret",
        "secret",
        "secretkey",
        "secretaccesskey",
        "awssecretaccesskey",
        "awssessiontoken",
        "password",
        "passwd",
        "privatekey",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
    }
)
"""Field and query-parameter names (lower-cased, ``_`` and ``-`` removed) whose value is a secret."""

SECRET_QUERY_NAMES: frozenset[str] = SECRET_NAMES | {"key", "token", "sig", "signature", "code"}
"""Query parameters are terser: ``?key=`` (Google), ``?sig=`` (Azure SAS), ``?code=`` (OAuth)."""

SECRET_KIND = "secret"
"""The kind of a value redacted because of its name rather than its shape."""

_TOKEN = re.compile(r"<redacted(?::([A-Za-z0-9_.\-]+))?>")


def _name_key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


@dataclass(frozen=True)
class RedactionConfig:
    """A project's additions, from ``[tool.harness.redact]`` in ``pyproject.toml``.

    .. code-block:: toml

        [tool.harness.redact]
        patterns = { internal-token = "itk_[A-Za-z0-9]{24}" }   # kind = regex
        fields = ["customer_ssn"]                                # more secret field/query names
        request_headers = ["x-tenant"]                           # more headers worth keeping
        response_headers = ["x-ratelimit-remaining-requests"]
    """

    patterns: tuple[tuple[str, str], ...] = ()
    fields: frozenset[str] = frozenset()
    request_headers: frozenset[str] = frozenset()
    response_headers: frozenset[str] = frozenset()

    @classmethod
    def from_pyproject(cls, path: Path) -> RedactionConfig:
        """Read ``[tool.harness.redact]``; a missing file or table is the empty config."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read [tool.harness.redact]: {exc}") from None
        table = data.get("tool", {}).get("harness", {}).get("redact", {})
        return cls.from_mapping(table, where=f"{path}: [tool.harness.redact]")

    @classmethod
    def from_mapping(cls, table: Any, *, where: str = "[tool.harness.redact]") -> RedactionConfig:
        """Validate a ``[tool.harness.redact]`` table; errors name the key and what was found."""
        if not isinstance(table, dict):
            raise UsageError(f"{where}: expected a table, found {type(table).__name__}")
        unknown = sorted(set(table) - {"patterns", "fields", "request_headers", "response_headers"})
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(unknown)}; "
                "known: patterns, fields, request_headers, response_headers"
            )
        patterns = table.get("patterns", {})
        if not isinstance(patterns, dict):
            raise UsageError(f"{where}.patterns: expected a table of kind = regex, found {type(patterns).__name__}")
        checked: list[tuple[str, str]] = []
        for kind, regex in sorted(patterns.items()):
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", kind):
                raise UsageError(f"{where}.patterns: kind {kind!r} may only use letters, digits, '_', '.', '-'")
            if not isinstance(regex, str) or not regex:
                raise UsageError(f"{where}.patterns.{kind}: expected a non-empty regex string")
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                raise UsageError(f"{where}.patterns.{kind}: not a valid regex: {exc}") from None
            if compiled.match(""):
                raise UsageError(f"{where}.patterns.{kind}: the regex matches the empty string")
            checked.append((kind, regex))
        lists: dict[str, frozenset[str]] = {}
        for key in ("fields", "request_headers", "response_headers"):
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise UsageError(f"{where}.{key}: expected a list of names")
            lists[key] = frozenset(v.lower() for v in value)
        return cls(
            patterns=tuple(checked),
            fields=frozenset(_name_key(f) for f in lists["fields"]),
            request_headers=lists["request_headers"],
            response_headers=lists["response_headers"],
        )


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Redactor:
    """Redacts frames as they are written; counts what it replaced, by kind.

    >>> Redactor().text("key=sk-ant-api03-abcdefghijkl rest")
    'key=<redacted:anthropic-key> rest'
    >>> Redactor().json({"api_key": "hunter2", "n": 1})
    {'api_key': '<redacted:secret>', 'n': 1}
    """

    config: RedactionConfig = field(default_factory=RedactionConfig)
    placeholders: Mapping[str, str] = field(default_factory=dict)
    """``{placeholder: machine value}``, e.g. ``{"<workspace>": "/home/me/project"}``."""
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = [*SECRET_SHAPES, *self.config.patterns]
        # One alternation with a named group per kind: one pass over each string.
        self._groups = {f"k{i}": kind for i, (kind, _) in enumerate(shapes)}
        self._pattern = re.compile("|".join(f"(?P<k{i}>{regex})" for i, (_, regex) in enumerate(shapes)))
        self._names = SECRET_NAMES | self.config.fields
        self._query_names = SECRET_QUERY_NAMES | self.config.fields
        # Longest machine value first: a workspace inside the home folder wins over <home>.
        self._paths = sorted(
            ((value, placeholder) for placeholder, value in self.placeholders.items() if value and value != "/"),
            key=lambda pair: -len(pair[0]),
        )

    @classmethod
    def for_project(cls, root: Path, *, placeholders: Mapping[str, str] | None = None) -> Redactor:
        """A redactor with the ``[tool.harness.redact]`` table of the nearest ``pyproject.toml``."""
        pyproject = find_pyproject(root)
        config = RedactionConfig.from_pyproject(pyproject) if pyproject else RedactionConfig()
        return cls(config=config, placeholders=dict(placeholders or {}))

    @property
    def total(self) -> int:
        """How many values were replaced so far."""
        return sum(self.counts.values())

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def text(self, value: str) -> str:
        """``value`` with every known shape replaced by ``<redacted:KIND>`` and paths by placeholders."""

        def replace(match: re.Match[str]) -> str:
            kind = self._groups[match.lastgroup or ""]
            self._count(kind)
            return f"<redacted:{kind}>"

        value = self._pattern.sub(replace, value)
        for machine, placeholder in self._paths:
            if machine in value:
                value = value.replace(machine, placeholder)
        return value

    def secret_value(self, value: Any) -> Any:
        """A value kept under a secret name: strings and numbers become ``<redacted:secret>``."""
        if isinstance(value, str) and value and not _TOKEN.fullmatch(value):
            self._count(SECRET_KIND)
            return f"<redacted:{SECRET_KIND}>"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._count(SECRET_KIND)
            return f"<redacted:{SECRET_KIND}>"
        return self.json(value)

    def json(self, value: Any) -> Any:
        """A copy of a JSON value: secret-named fields replaced, every string scrubbed; keys kept."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: self.secret_value(item) if _name_key(key) in self._names else self.json(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return value

    def headers(self, headers: Iterable[tuple[str, str]], *, direction: str) -> dict[str, str]:
        """Allowlisted headers (lower-cased names, sorted, first value wins), values scrubbed."""
        if direction == "request":
            allow = REQUEST_HEADER_ALLOWLIST | self.config.request_headers
        else:
            allow = RESPONSE_HEADER_ALLOWLIST | self.config.response_headers
        allow = allow - SECRET_HEADERS
        kept: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            if key in allow and key not in kept:
                kept[key] = self.text(value)
        return dict(sorted(kept.items()))

    def query(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Query parameters sorted by name; secret-named values replaced, the rest scrubbed."""
        out: dict[str, str] = {}
        for name, value in sorted(pairs):
            out[name] = self.secret_value(value) if _name_key(name) in self._query_names else self.text(value)
        return out

    def find(self, text: str) -> list[tuple[int, str]]:
        """``(offset, kind)`` of every known shape left in ``text`` (the value is never returned)."""
        return [(m.start(), self._groups[m.lastgroup or ""]) for m in self._pattern.finditer(text)]


def redacted_pattern(expected: str, patterns: Iterable[tuple[str, str]] = ()) -> re.Pattern[str] | None:
    """A regex that matches ``expected`` with each ``<redacted:KIND>`` standing for any value of that kind.

    None when ``expected`` holds no redaction marker. ``patterns`` are a project's own
    ``(kind, regex)`` pairs (``RedactionConfig.patterns``); ``<redacted:secret>`` and kinds
    neither built in nor given stand for any non-empty text; ``<redacted>`` for any known shape.
    """
    if "<redacted" not in expected:
        return None
    shapes = dict(SECRET_SHAPES)
    shapes.update(patterns)
    parts: list[str] = []
    position = 0
    found = False
    for match in _TOKEN.finditer(expected):
        found = True
        parts.append(re.escape(expected[position : match.start()]))
        kind = match.group(1)
        if kind is None:
            alternatives = "|".join(f"(?:{regex})" for regex in shapes.values())
        elif kind in shapes:
            alternatives = f"(?:{shapes[kind]})"
        else:
            alternatives = r"(?:.+?)"
        # The marker itself always matches: the live frame is redacted before it is compared.
        parts.append(f"(?:{re.escape(match.group(0))}|{alternatives})")
        position = match.end()
    if not found:
        return None
    parts.append(re.escape(expected[position:]))
    return re.compile("".join(parts), re.DOTALL)


class SecretLeak(UsageError):
    """A written recording still held something shaped like a secret; the file was removed."""

    def __init__(self, path: Path, findings: list[tuple[int, str]]) -> None:
        self.path = path
        self.findings = findings
        where = ", ".join(f"line {line} ({kind})" for line, kind in findings[:5])
        super().__init__(
            f"{path}: removed: a value shaped like a secret survived redaction at {where}; "
            "declare its field under [tool.harness.redact] fields or patterns and record again"
        )


def scan_file(path: Path, redactor: Redactor | None = None) -> list[tuple[int, str]]:
    """``(line, kind)`` of every known secret shape in a written file, never the value."""
    scanner = redactor or Redactor()
    findings: list[tuple[int, str]] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            findings.extend((number, kind) for _, kind in scanner.find(line))
    return findings


def check_written(path: Path, redactor: Redactor | None = None) -> None:
    """Scan a just-written recording; remove it and raise :class:`SecretLeak` if a secret survived."""
    findings = scan_file(path, redactor)
    if findings:
        path.unlink(missing_ok=True)
        raise SecretLeak(path, findings)


_SHAPES = re.compile("|".join(f"(?:{regex})" for _, regex in SECRET_SHAPES))


def scrub(text: str) -> str:
    """``text`` with every known secret shape replaced by ``<redacted>``: for error messages."""
    return _SHAPES.sub(REDACTED, text)


# -- one-shot helpers: (clean value, count) -----------------------------------------------------------


def redact_text(text: str) -> tuple[str, int]:
    """Return ``text`` with every known shape replaced, and the count.

    >>> redact_text("key=sk-ant-api03-abcdefghijkl rest")
    ('key=<redacted:anthropic-key> rest', 1)
    """
    redactor = Redactor()
    return redactor.text(text), redactor.total


def redact_json(value: Any) -> tuple[Any, int]:
    """Return a redacted copy of a JSON value, and the number of replacements."""
    redactor = Redactor()
    return redactor.json(value), redactor.total


def keep_headers(headers: Iterable[tuple[str, str]], allowlist: frozenset[str]) -> tuple[dict[str, str], int]:
    """Allowlisted headers with lower-cased names, sorted by name, values scrubbed; and the count."""
    redactor = Redactor()
    direction = "request" if allowlist == REQUEST_HEADER_ALLOWLIST else "response"
    if allowlist not in (REQUEST_HEADER_ALLOWLIST, RESPONSE_HEADER_ALLOWLIST):
        raise ValueError("keep_headers takes REQUEST_HEADER_ALLOWLIST or RESPONSE_HEADER_ALLOWLIST")
    return redactor.headers(headers, direction=direction), redactor.total
