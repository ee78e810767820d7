"""A tiny scripted HTTP server standing in for Steam in unit tests (a faked boundary, real HTTP).

Routes map a path to a queue of canned answers; the last answer repeats. Every request is recorded
(path and query) so tests can assert what the client sent and how often.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from http_fake import respond, serve_handler


@dataclass
class Canned:
    """One answer: status, body (dict/list -> JSON, str/bytes as is), headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/html; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


class FakeSteam:
    """Scripted routes, a request log; use `serve()` for a running server on a free port."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Canned] | Any] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def add(self, path: str, *answers: Canned) -> None:
        self.routes[path.strip("/")] = list(answers)

    def add_handler(self, path: str, handler: Any) -> None:
        """`handler(query) -> Canned` computes the answer from the query."""
        self.routes[path.strip("/")] = handler

    def calls(self, path: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == path.strip("/")]

    def answer(self, path: str, query: dict[str, str]) -> Canned:
        with self._lock:
            self.requests.append((path, query))
            route = self.routes.get(path)
            if route is None:
                return Canned(404, {"error": "no route"})
            if callable(route):
                return route(query)
            return route.pop(0) if len(route) > 1 else route[0]

    @contextmanager
    def serve(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                canned = fake.answer(parts.path.strip("/"), query)
                body, content_type = canned.encoded()
                respond(self, canned.status, body, content_type, canned.headers)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        with serve_handler(Handler) as url:
            yield url
