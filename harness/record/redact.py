"""Keep secrets out of every transcript the harness writes, at write time.

Four layers, all on by default (``docs/your-code.md`` lists every kind):

1. **Headers** are copied only when their lower-cased name is on an allowlist
   (:data:`REQUEST_HEADER_ALLOWLIST`, :data:`RESPONSE_HEADER_ALLOWLIST`, plus a project's own
   additions). Credentials (``authorization``, ``x-api-key``, ``api-key``, ``cookie``,
   ``set-cookie``, ``proxy-authorization``, ...) are never on it.
2. **Names that mean a secret**: the value of a query parameter, JSON field or kept header whose
   name is one of :data:`SECRET_NAMES` or ends in one of :data:`SECRET_NAME_SUFFIXES`
   (``api_key``, ``apiKey``, ``client_secret``, ``password``, ``azure_openai_api_key``, ...; in a
   query string also :data:`SECRET_QUERY_NAMES` such as ``key``, ``token``, ``sig``) becomes
   ``<redacted:secret>`` whatever it looks like. Inside any string the same names are recognised
   where they are assigned a value (``api_key=...``, ``"password": "..."``, ``api-key: ...``,
   ``?key=...`` in a URL, ``; key=...`` in a header parameter): only the value is replaced.
3. **Known key shapes** anywhere in any string (:data:`SECRET_SHAPES`: Anthropic, OpenAI, AWS,
   GitHub, Google, Slack keys, Google OAuth tokens, bearer and Basic credentials, passwords in
   URLs, JWTs, private-key blocks) become ``<redacted:KIND>``; only the match is replaced, the
   rest of the string survives.
4. **A project's own patterns** from ``[tool.harness.redact]`` in ``pyproject.toml``.

Machine paths may be replaced by declared placeholders (``<workspace>``, ``<home>``), longest
value first, so a recording made in one checkout replays in another.

The matcher treats ``<redacted:KIND>`` in a recorded frame as "any value of that kind"
(:func:`redacted_pattern`), so a recording whose prompt contained a key still replays against the
real input. After a recording is written, :func:`check_written` scans the file and removes it if
a known shape survived. Error messages quote input only through :func:`scrub` (text) or
:func:`scrub_json` (a JSON value), which apply the same rules without counting.
"""

from __future__ import annotations

import base64
import binascii
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
# quarterly-report" would contain "sk-" followed by 20+ key characters. An OpenAI-style key needs
# 16+ characters after "sk-" (19 in all, the shortest keys in use); a run of short lower-case
# words joined by hyphens ("sk-learn-compatible-estimators") reads as prose and is left alone
# unless it starts with a key prefix ("sk-proj-", "sk-svcacct-", "sk-admin-"). Bearer tokens need
# 16+ characters so that prose such as "Bearer authentication" is left alone; real tokens (API
# keys, OAuth tokens, JWTs) are far longer. A Basic credential counts only when its token is
# base64 of printable "user:password" text (checked after the match), so "Basic information" is
# prose. A password in a URL needs "scheme://user:password@"; "https://user@host" keeps its user.
SECRET_SHAPES: tuple[tuple[str, str], ...] = (
    ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ("anthropic-key", r"(?<![A-Za-z0-9])x?sk-ant-[A-Za-z0-9_\-]{10,}"),
    (
        "openai-key",
        r"(?<![A-Za-z0-9])sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{16,}"
        r"|(?![a-z0-9]{1,12}(?:-[a-z0-9]{1,12})+(?![A-Za-z0-9_\-]))[A-Za-z0-9_\-]{16,})",
    ),
    ("aws-access-key", r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Za-z0-9])"),
    ("github-token", r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ("google-api-key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}"),
    ("google-oauth-token", r"(?<![A-Za-z0-9])ya29\.[A-Za-z0-9_\-]{20,}"),
    ("slack-token", r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("jwt", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("bearer", r"(?<![A-Za-z0-9])(?i:bearer)\s+[A-Za-z0-9\-._~+/]{16,}=*"),
    ("basic-auth", r"(?<![A-Za-z0-9])(?i:basic)\s+[A-Za-z0-9+/]{8,}={0,2}(?![A-Za-z0-9+/=])"),
    ("url-credentials", r"(?<=://)[^\s/?#@:\"'<>]*:[^\s/?#@\"'<>]+(?=@)"),
)
"""``(kind, regex)``: what counts as a secret inside any string, whatever its field is called."""

SECRET_NAMES: frozenset[str] = frozenset(
    {
        "apikey",
        "xapikey",
        "xgoogapikey",
        "accesskey",
        "subscriptionkey",
        "ocpapimsubscriptionkey",
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
        "credential",
        "credentials",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
    }
)
"""Field, header and query-parameter names (lower-cased, ``_`` and ``-`` removed) whose value is a secret."""

SECRET_NAME_SUFFIXES: tuple[str, ...] = (
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "sessiontoken",
    "bearertoken",
    "secret",
    "password",
    "passwd",
)
"""A name ending in one of these is a secret name too: ``azure_openai_api_key``, ``db_password``,
``webhook_secret``. (``token`` alone is not: ``max_tokens``, a logprob's ``token`` are not secrets.)"""

SECRET_QUERY_NAMES: frozenset[str] = SECRET_NAMES | {
    "key",
    "token",
    "sig",
    "signature",
    "code",
    "auth",
    "authkey",
    "sastoken",
    "xamzsignature",
    "xamzcredential",
    "xamzsecuritytoken",
    "xgoogsignature",
    "xgoogcredential",
}
"""Query parameters are terser: ``?key=`` (Google), ``?sig=`` (Azure SAS), ``?code=`` (OAuth),
``?auth=`` (Firebase), ``X-Amz-Signature`` (S3 presigned URLs). The same names count in a header
parameter (``content-type: application/json; key=...``)."""

SECRET_KIND = "secret"
"""The kind of a value redacted because of its name rather than its shape."""

_TOKEN = re.compile(r"<redacted(?::([A-Za-z0-9_.\-]+))?>")


def _name_key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


# A name assigned a value inside a string: ``api_key=...``, ``"password": "..."``, ``api-key: ...``,
# ``?key=...`` in a URL, ``; key=...`` in a header, ``--api-key=...``. Any name matches here; the
# Redactor then decides from the name (and the context) whether the value is a secret. A value
# stops at white space, quotes, ``&``, ``;``, ``,``, brackets and ``<``, so a ``<redacted:KIND>``
# marker or a ``<your key>`` placeholder is never taken for one; ``Bearer``/``Basic``/``token``
# before it belong to it.
_VALUE_CHARS = r"""[^\s"'<>&;,(){}\[\]\\`|]"""
_NAMED_VALUE = (
    r"""(?<![A-Za-z0-9_\-])["']?-{0,2}[A-Za-z][A-Za-z0-9_\-]{0,63}+["']?\s*+[:=]\s*+["']?"""
    r"(?:(?i:bearer|basic|token)\s+)?(?!=)" + _VALUE_CHARS + "++"
)
_NAMED_PARTS = re.compile(
    r"""(?P<q1>["']?)-{0,2}(?P<name>[A-Za-z][A-Za-z0-9_\-]{0,63})["']?(?P<s1>\s*)(?P<sep>[:=])(?P<s2>\s*)"""
    r"""(?P<q3>["']?)(?P<value>(?P<scheme>(?i:bearer|basic|token)\s+)?""" + _VALUE_CHARS + "+)"
)
_PLACEHOLDER = re.compile(r"[.*xX…]+|(?:[A-Za-z0-9]+[-_])*(?:\.\.\.|…)|\$[A-Za-z_{].*")
"""A value that only stands for a secret: ``...``, ``xxxx``, ``sk-ant-...``, ``$OPENAI_API_KEY``."""
_QUERY_CONTEXT = ("?", "&", ";")
"""A name right after one of these (or after ``"; "``) is a URL query or header parameter."""
_NAMED = "\x00named"
"""The internal kind of :data:`_NAMED_VALUE` matches; what they produce is ``secret`` or a shape's kind."""


def _basic_credentials(match: str) -> bool:
    """Whether ``Basic <token>`` holds base64 of printable ``user:password`` text (RFC 7617)."""
    token = match.split()[-1]
    if len(token) % 4:
        return False
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    _, colon, password = decoded.partition(":")
    return bool(colon and password) and decoded.isprintable()


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
        # One alternation with a named group per kind: one pass over each string. Shapes come
        # first, so at one position a key shape wins over a name assigned a value.
        self._groups = {f"k{i}": kind for i, (kind, _) in enumerate(shapes)}
        self._shapes = re.compile("|".join(f"(?P<k{i}>{regex})" for i, (_, regex) in enumerate(shapes)))
        self._groups["named"] = _NAMED
        self._pattern = re.compile(f"{self._shapes.pattern}|(?P<named>{_NAMED_VALUE})")
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

    def is_secret_name(self, name: str, *, query: bool = False) -> bool:
        """Whether a field, header (or, with ``query``, query-parameter) name means a secret value."""
        if not isinstance(name, str):
            return False
        key = _name_key(name)
        return key in (self._query_names if query else self._names) or key.endswith(SECRET_NAME_SUFFIXES)

    def _spans(self, text: str, pattern: re.Pattern[str] | None = None) -> list[tuple[int, int, str]]:
        """``(start, end, kind)`` of every part of ``text`` to replace, left to right, not overlapping."""
        pattern = pattern or self._pattern
        spans: list[tuple[int, int, str]] = []
        position = 0
        while position <= len(text):
            match = pattern.search(text, position)
            if match is None:
                break
            kind = self._groups[match.lastgroup or ""]
            span: tuple[int, int, str] | None = (match.start(), match.end(), kind)
            if kind == _NAMED:
                span = self._named(match)
            elif kind == "basic-auth" and not _basic_credentials(match.group(0)):
                span = None
            if span is None or span[0] == span[1]:
                # Not a secret after all: look again one character further, so a shape inside
                # (a key in the value of an ordinary name, say) is still found.
                position = match.start() + 1
                continue
            spans.append(span)
            position = max(match.end(), match.start() + 1)
        return spans

    def _named(self, match: re.Match[str]) -> tuple[int, int, str] | None:
        """The value's span and kind when ``match`` (of :data:`_NAMED_VALUE`) assigns a secret name."""
        parts = _NAMED_PARTS.match(match.group(0))
        if parts is None:
            return None
        start, end = match.start(), match.end()
        text = match.string
        spaced = bool(parts["s1"] or parts["s2"])
        quoted = bool(parts["q3"])
        in_query = (
            parts["sep"] == "="
            and not parts["q1"]
            and not spaced
            and (text[start - 1 : start] in _QUERY_CONTEXT or text[max(0, start - 2) : start] == "; ")
        )
        if not self.is_secret_name(parts["name"], query=in_query):
            return None
        if not quoted and text[end : end + 1] in ("(", "["):
            return None  # code: a call or an index, not a literal value
        if parts["sep"] == "=" and spaced and not quoted:
            return None  # code: `password = read_password()`
        token = parts["value"][len(parts["scheme"] or "") :]
        if _PLACEHOLDER.fullmatch(token):
            return None  # documentation: `ANTHROPIC_API_KEY=sk-ant-...`, `api_key=$API_KEY`
        # `password: required` is prose; `api-key: 3f2a9c...` is a credential.
        bare = parts["sep"] == ":" and not quoted and not parts["scheme"]
        if bare and (len(token) < 8 or not any(character.isdigit() for character in token)):
            return None
        value_start = start + parts.start("value")
        inner = self._spans(text[value_start:end], self._shapes)
        return value_start, end, inner[0][2] if inner else SECRET_KIND

    def _rewrite(self, value: str, *, count: bool) -> str:
        spans = self._spans(value) if value else []
        if spans:
            pieces: list[str] = []
            position = 0
            for start, end, kind in spans:
                pieces.append(value[position:start])
                pieces.append(f"<redacted:{kind}>")
                position = end
                if count:
                    self._count(kind)
            pieces.append(value[position:])
            value = "".join(pieces)
        for machine, placeholder in self._paths:
            if machine in value:
                value = value.replace(machine, placeholder)
        return value

    def text(self, value: str) -> str:
        """``value`` with every known shape, and every value assigned to a secret name, replaced by
        ``<redacted:KIND>``; machine paths replaced by placeholders."""
        return self._rewrite(value, count=True)

    def scrub(self, value: str) -> str:
        """:meth:`text` without counting: for text quoted in an error message or a warning."""
        return self._rewrite(value, count=False)

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
                key: self.secret_value(item) if self.is_secret_name(key) else self.json(item)
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
                kept[key] = self.secret_value(value) if self.is_secret_name(key) else self.text(value)
        return dict(sorted(kept.items()))

    def query(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Query parameters sorted by name; secret-named values replaced, the rest scrubbed."""
        out: dict[str, str] = {}
        for name, value in sorted(pairs):
            out[name] = self.secret_value(value) if self.is_secret_name(name, query=True) else self.text(value)
        return out

    def find(self, text: str) -> list[tuple[int, str]]:
        """``(offset, kind)`` of everything :meth:`text` would replace in ``text`` (never the value)."""
        return [(start, kind) for start, _, kind in self._spans(text)]


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


_SCRUBBER = Redactor()


def scrub(text: str) -> str:
    """``text`` as :meth:`Redactor.text` would write it (``<redacted:KIND>`` markers), without
    counting: every error message and warning that quotes input quotes it through this."""
    return _SCRUBBER.scrub(text)


def scrub_json(value: Any) -> Any:
    """A JSON value as :meth:`Redactor.json` would write it: for error messages that show one."""
    return Redactor().json(value)


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
