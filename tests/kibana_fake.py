"""Kibana's status and saved-objects import endpoints as a tiny HTTP fake (no Kibana can be
installed here: no registry this machine reaches ships Kibana 8 or 9).

`GET /api/status` answers with `version` (like Kibana 7.10-9.4 do), or, when `version` is None,
with only the overall level (like 9.5+ does for a user without `cluster:monitor`). `POST
/api/saved_objects/_import` parses the multipart upload the way Kibana does, answers like it and
keeps the objects it took (by type and id, as Kibana's `.kibana` index would), which `POST
/api/saved_objects/_bulk_get` answers from: an object it does not hold comes back as a 404 error.
The HTTP between the platform's `KibanaResource` and the fake is real; whether Kibana's migrations
accept the objects is checked by `kibana_import_check`, not by this fake.
"""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from http_fake import respond

#: The version the fake reports unless a test sets another (the compose stack's Kibana).
DEFAULT_VERSION = "7.10.2"


class FakeKibana(BaseHTTPRequestHandler):
    """Records each import request (path, xsrf header, multipart parts) and status request;
    `refuse` fails one object; `version` is what `GET /api/status` reports (None: not reported);
    `objects` holds what imports stored (clear it to play a Kibana whose index was wiped)."""

    received: ClassVar[list[dict[str, Any]]] = []
    objects: ClassVar[dict[tuple[str, str], dict[str, Any]]] = {}
    status_requests: ClassVar[list[str]] = []
    refuse: ClassVar[bool] = False
    version: ClassVar[str | None] = DEFAULT_VERSION

    def do_GET(self) -> None:
        self.status_requests.append(self.path)
        if self.path != "/api/status":
            respond(self, 404, b'{"statusCode":404,"error":"Not Found"}', "application/json")
            return
        answer: dict[str, Any] = {"status": {"overall": {"level": "available"}}}
        if self.version is not None:
            answer = {"name": "fake-kibana", "version": {"number": self.version}} | answer
        respond(self, 200, json.dumps(answer).encode(), "application/json")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.split("?")[0].endswith("/api/saved_objects/_bulk_get"):
            self._bulk_get(json.loads(body))
            return
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
            for line in ndjson.splitlines():
                obj = json.loads(line)
                self.objects[(obj["type"], obj["id"])] = obj
        respond(self, 200, json.dumps(answer).encode(), "application/json")

    def _bulk_get(self, wanted: list[dict[str, Any]]) -> None:
        """Kibana's answer: each object in the order asked, or a 404 error in its place."""
        found = []
        for want in wanted:
            obj = self.objects.get((want["type"], want["id"]))
            if obj is None:
                error = {"statusCode": 404, "error": "Not Found", "message": "Saved object not found"}
                found.append({"id": want["id"], "type": want["type"], "error": error})
            else:
                found.append({"id": obj["id"], "type": obj["type"], "attributes": obj.get("attributes", {})})
        respond(self, 200, json.dumps({"saved_objects": found}).encode(), "application/json")

    def log_message(self, *args: Any) -> None:
        pass
