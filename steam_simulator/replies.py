"""HTTP answers as values: status, headers and body bytes, with Steam's JSON and HTML error pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"
ACCESS_DENIED = "Access is denied. Retrying will not help. Please verify your <pre>key=</pre> parameter."


@dataclass
class Reply:
    """What the server sends back; `truncate` cuts the body short after promising its full length."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False


def json_reply(payload: Any, status: int = 200, *, eresult: int | None = None) -> Reply:
    """A JSON answer; Web API answers carry `x-eresult` (1 = OK, 42 = no match)."""
    headers = {"x-eresult": str(eresult)} if eresult is not None else {}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body, JSON_TYPE, headers)


def html_page(status: int, title: str, message: str = "") -> Reply:
    """Steam's bare HTML error page (what the Web API sends for 4xx/5xx outside JSON)."""
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{message}</body></html>"
    return Reply(status, body.encode(), HTML_TYPE)


def forbidden_key() -> Reply:
    """The answer to a wrong or revoked key: 403 with HTML, never JSON."""
    return html_page(403, "Forbidden", ACCESS_DENIED)


def missing_param(name: str) -> Reply:
    """The answer to a request without a required parameter."""
    return html_page(400, "Bad Request", f"Required parameter '{name}' is missing")


def not_found() -> Reply:
    """Unknown paths and removed methods (e.g. ISteamApps/GetAppList/v2)."""
    return html_page(404, "Not Found")
