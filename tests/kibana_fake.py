"""Kibana's saved-objects import endpoint as a tiny HTTP fake (no Kibana can be installed here).

It parses the multipart upload the way Kibana 7.10 does and answers like it; the HTTP between the
platform's `KibanaResource` and the fake is real.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from http_fake import respond


class FakeKibana(BaseHTTPRequestHandler):
    """Records each import request (path, xsrf header, multipart parts); `refuse` fails one object."""

    received: ClassVar[list[dict[str, Any]]] = []
    refuse: ClassVar[bool] = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        parts = list(message.iter_parts())  # type: ignore[attr-defined]
        self.received.append({"path": self.path, "xsrf": self.headers.get("kbn-xsrf"), "parts": parts})
        ndjson = parts[0].get_payload(decode=True).decode()
        n = len(ndjson.splitlines())
        if self.refuse:
            answer = {
                "success": False,
                "successCount": n - 1,
                "errors": [{"type": "visualization", "id": "steam-vis-x", "error": {"type": "conflict"}}],
            }
        else:
            answer = {"success": True, "successCount": n}
        respond(self, 200, json.dumps(answer).encode(), "application/json")

    def log_message(self, *args: Any) -> None:
        pass
