"""Typed failures of the Steam client; no message carries the API key (see `transport`)."""

from __future__ import annotations


class SteamError(RuntimeError):
    """Base class of everything the Steam client raises; messages never contain the key."""

    #: Short machine-readable reason, used in asset metadata ("apps skipped and why").
    reason = "steam_error"


class SteamAppError(SteamError):
    """One app's (or player's) request failed; the run goes on without it."""

    reason = "app_error"


#: How much of a malformed body an error keeps (for the dead letter): enough to see what came back.
BODY_EXCERPT_BYTES = 2048


class SteamMalformedResponse(SteamAppError):
    """Steam answered 2xx but the body is not the JSON shape expected (truncated, HTML, garbage).

    `body` keeps the start of what Steam sent (at most `BODY_EXCERPT_BYTES`) and `body_bytes` its
    full size, so the item's dead letter shows what came back; both are empty when not known.
    """

    reason = "malformed_response"

    def __init__(self, message: str, body: bytes = b"") -> None:
        super().__init__(message)
        self.body = body[:BODY_EXCERPT_BYTES]
        self.body_bytes = len(body)

    def keep_body(self, body: bytes) -> None:
        """Attach the answer's body when the raising reader did not have it at hand."""
        if not self.body_bytes:
            self.body = body[:BODY_EXCERPT_BYTES]
            self.body_bytes = len(body)


class SteamNotFound(SteamAppError):
    """Steam answered 404 (or `success: false`) for this app/player."""

    reason = "not_found"


class SteamItemUnavailable(SteamAppError):
    """429/5xx/connection errors outlasted the retries for this item while others went through."""

    reason = "unavailable"


class SteamRequestRejected(SteamAppError):
    """A 4xx other than 403/404/429 for one request (bad parameter for this app)."""

    reason = "rejected"


class SteamSourceError(SteamError):
    """The source as a whole cannot be used: the run should fail rather than skip items."""

    reason = "source_error"


class SteamUnavailable(SteamSourceError):
    """429/5xx/connection failures persisted through every retry (Steam or the network is down)."""

    reason = "unavailable"


class SteamAuthError(SteamSourceError):
    """Steam refused the API key (HTTP 401/403): retrying will not help."""

    reason = "bad_key"


class SteamForbidden(SteamSourceError):
    """A keyless 403: the store blocks this IP (typically after too many requests)."""

    reason = "forbidden"


class SteamBudgetExhausted(SteamSourceError):
    """The daily Web API call budget is used up; no more calls until the next UTC day."""

    reason = "budget_exhausted"


class SteamKeyMissing(SteamError):
    """A keyed endpoint was requested but no STEAM_API_KEY is configured (skipped, not failed)."""

    reason = "no_api_key"
