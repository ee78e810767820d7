"""The one place that decides what is a secret and scrubs secrets out of text.

Every part of the platform that shows settings or messages uses these functions: the Steam client
(request URLs in exceptions and urllib3's log records carry `key=...`), the `steam-platform stack`
commands (the stack's environment holds passwords and keys), and whatever else prints settings.

One rule names secrets, for environment variables, config keys and URL query parameters alike:
a name is secret when it ends in `_KEY`, `_PASSWORD` or `_TOKEN`, contains `SECRET` as a word, or
names a JAAS config (which carries a password); bare `key`, `password`, `token` and `secret` count
too. Case is ignored and `.`/`-` count as `_`, so `sasl.password`, `fs.s3a.secret.key` and a URL's
`key=` follow the same rule as `AWS_SECRET_ACCESS_KEY`.

Two shapes carry a credential whatever it is called: a URL's userinfo (`scheme://user:password@host`,
as a misconfigured S3 endpoint or broker URL quotes it back) and an HTTP `Authorization` header (its
`Basic`/`Bearer`/`ApiKey` value, as a client's debug output or a request repr shows it). Both are
masked by `redact` too, with no secret given.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

#: What a secret value is replaced with.
MASK = "***"

_SECRET_SUFFIXES = ("_KEY", "_PASSWORD", "_PASSWD", "_TOKEN")
_SECRET_WORDS = frozenset({"KEY", "PASSWORD", "PASSWD", "TOKEN", "SECRET"})
_SEPARATORS = re.compile(r"[.\-\s]")

#: `name=value` in URLs, JAAS lines, `k=v` reprs and `export` lines; the value is a double- or
#: single-quoted string (with backslash escapes) or runs to the next `&`, `;`, `,`, `)`, quote or space.
_ASSIGNMENT = re.compile(
    r"""(?P<name>(?<![\w.\-])[A-Za-z_][\w.\-]*)=(?P<value>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^&;,)\s'"]+)"""
)


#: `scheme://userinfo@`: everything between `//` and `@` is a credential (a user alone, an access key id
#: or `user:password`); the scheme and host stay so the message still says what was reached.
_URL_USERINFO = re.compile(r"(?P<scheme>(?<![\w+.\-])[A-Za-z][\w+.\-]*://\[?)[^/\s@'\"<>\[\]]+@")

#: An `Authorization` (or `Proxy-Authorization`) header as text, JSON, a dict repr or `k=v`:
#: the scheme word (Basic, Bearer, ApiKey ...) stays, the credential after it goes.
_AUTHORIZATION = re.compile(
    r"""(?P<name>(?:proxy-)?authorization)(?P<sep>['"]?\s*[:=]\s*['"]?)"""
    r"""(?:(?P<scheme>basic|bearer|apikey|token|digest|negotiate)\s+)?(?P<value>[^\s'",;}]+)""",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a setting, environment variable or query parameter called `name` holds a secret."""
    normal = _SEPARATORS.sub("_", name.strip()).upper()
    return (
        normal in _SECRET_WORDS
        or normal.endswith(_SECRET_SUFFIXES)
        or "_SECRET" in f"_{normal}"
        or "JAAS" in normal
    )


def mask_value(name: str, value: str) -> str:
    """`value`, or `***` when `name` is a secret's name (see `is_secret_name`)."""
    return MASK if is_secret_name(name) else value


def mask_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """`settings` with the value of every secret-named entry replaced by `***` (for display)."""
    return {name: mask_value(name, value) for name, value in settings.items()}


def redact(text: str, secrets: Iterable[str | None] | str | None = ()) -> str:
    """`text` without secrets: every literal in `secrets` (also URL-encoded), the value of every
    `name=value` whose name is secret (`key=...` in a URL, `password="..."` in a JAAS line), a URL's
    userinfo and an `Authorization` header's credential become `***`.
    """
    if isinstance(secrets, str):  # one secret, not an iterable of its characters
        secrets = (secrets,)
    literals = {
        s for secret in secrets or () if secret for s in (secret, quote(secret, safe=""), quote_plus(secret))
    }
    cleaned = text
    for literal in sorted(literals, key=len, reverse=True):  # longest first: no partial leftovers
        cleaned = cleaned.replace(literal, MASK)

    def _scrub(match: re.Match[str]) -> str:
        return f"{match['name']}={MASK}" if is_secret_name(match["name"]) else match[0]

    cleaned = _ASSIGNMENT.sub(_scrub, cleaned)
    cleaned = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", cleaned)
    return _AUTHORIZATION.sub(_mask_authorization, cleaned)


def _mask_authorization(match: re.Match[str]) -> str:
    scheme = f"{match['scheme']} " if match["scheme"] else ""
    return f"{match['name']}{match['sep']}{scheme}{MASK}"


class RedactingFilter(logging.Filter):
    """A logging filter that passes every record through `redact` (e.g. URLs that carry `key=`)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_LOG_FILTER = RedactingFilter()


def redact_loggers(*names: str) -> None:
    """Attach the redacting filter to the loggers called `names` (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)
