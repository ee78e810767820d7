"""Store reviews (`/appreviews/<appid>?json=1`) with Steam's cursor pagination.

Review k of an app is written at `release + k * spacing` (plus seeded jitter inside its slot), so
the number of reviews grows with the clock and any page is computed without storing reviews.
Cursors are opaque base64 with `+`, `/` and `=` in them: a client that forgets to URL-encode the
cursor sends spaces instead of `+` and gets `{"success": 2}`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from steam_simulator.catalog import App
from steam_simulator.seeding import rng, unit

MAX_PER_PAGE = 100
_LANGUAGES = ("english",) * 5 + ("schinese", "russian", "koreana", "japanese", "brazilian")
_TEXTS = ("Great game, 10/10", "Не стоит своих денег", "재밌어요!", "非常好玩，推荐", "最高のゲーム",  # noqa: RUF001
          "Too many bugs after the last patch", "👍👍👍", "Runs great on the Deck")  # fmt: skip
_CURSOR_PREFIX = b"\xfb\xff\xfe"  # makes every cursor start with "+//+", so it must be URL-encoded


def spacing_s(app: App) -> int:
    """Seconds between two reviews: popular apps collect many reviews a day."""
    return max(60, int(86_400 * 20 / (app.peak_players + 1)))


def encode_cursor(appid: int, k_next: int) -> str:
    """The opaque cursor of the page that starts at review `k_next` (counting down)."""
    return base64.b64encode(_CURSOR_PREFIX + f"{appid}:{k_next}".encode()).decode()


def decode_cursor(cursor: str, appid: int) -> int | None:
    """The next review index a cursor points at, or None when it is malformed or for another app."""
    try:
        raw = base64.b64decode(cursor, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_CURSOR_PREFIX):
        return None
    try:
        cursor_app, k_next = raw[len(_CURSOR_PREFIX) :].decode().split(":")
        return int(k_next) if int(cursor_app) == appid else None
    except ValueError:
        return None


class Reviews:
    """Review pages for an app at a given time."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _total(self, app: App, now: float) -> int:
        if app.kind == "dlc" or not app.released(now):
            return 0
        return int((now - app.release_time) // spacing_s(app)) + 1

    def _positive_share(self, app: App) -> float:
        return 0.5 + 0.45 * unit(self.seed, "positive", app.appid)

    def _review(self, app: App, k: int) -> dict[str, Any]:
        gen = rng(self.seed, "review", app.appid, k)
        spacing = spacing_s(app)
        created = app.release_time + k * spacing + int(gen.random() * spacing * 0.9)
        p = self._positive_share(app)
        voted_up = int((k + 1) * p) - int(k * p) == 1
        author = 76_561_198_000_000_000 + gen.getrandbits(30)
        return {
            "recommendationid": str(100_000_000 + app.appid * 7 + k),
            "author": {
                "steamid": str(author),
                "num_games_owned": gen.randint(0, 900),
                "num_reviews": gen.randint(1, 50),
                "playtime_forever": gen.randint(10, 50_000),
                "playtime_last_two_weeks": gen.randint(0, 2_000),
                "playtime_at_review": gen.randint(10, 20_000),
                "last_played": created + gen.randint(0, 86_400 * 30),
            },
            "language": _LANGUAGES[k % len(_LANGUAGES)],
            "review": gen.choice(_TEXTS),
            "timestamp_created": created,
            "timestamp_updated": created,
            "voted_up": voted_up,
            "votes_up": gen.randint(0, 300),
            "votes_funny": gen.randint(0, 30),
            "weighted_vote_score": f"{gen.random():.9f}" if gen.random() < 0.7 else 0,
            "comment_count": gen.randint(0, 5),
            "steam_purchase": gen.random() < 0.85,
            "received_for_free": gen.random() < 0.05,
            "written_during_early_access": False,
            "primarily_steam_deck": gen.random() < 0.05,
        }

    def page(self, app: App | None, now: float, params: dict[str, str]) -> dict[str, Any]:
        """One page of reviews, newest first, honouring cursor, num_per_page, language and day_range."""
        cursor = params.get("cursor", "*")
        per_page = max(1, min(MAX_PER_PAGE, _int(params.get("num_per_page"), 20)))
        language = params.get("language", "all")
        day_range = max(1, min(365, _int(params.get("day_range"), 365)))
        total = self._total(app, now) if app else 0
        if cursor == "*":
            k = total - 1
        else:
            found = decode_cursor(cursor, app.appid if app else -1)
            if found is None:
                return {"success": 2}
            k = found
        oldest = now - day_range * 86_400 if params.get("filter", "recent") == "all" else float("-inf")
        reviews: list[dict[str, Any]] = []
        while app is not None and k >= 0 and len(reviews) < per_page:
            review = self._review(app, k)
            k -= 1
            if review["timestamp_created"] > now:
                continue
            if review["timestamp_created"] < oldest:
                k = -1
                break
            if language in ("all", review["language"]):
                reviews.append(review)
        body: dict[str, Any] = {"success": 1}
        if cursor == "*":
            body["query_summary"] = {**self._summary(app, now, total), "num_reviews": len(reviews)}
        else:
            body["query_summary"] = {"num_reviews": len(reviews)}
        body["reviews"] = reviews
        body["cursor"] = encode_cursor(app.appid if app else 0, k) if reviews or cursor == "*" else cursor
        return body

    def _summary(self, app: App | None, now: float, total: int) -> dict[str, Any]:
        positive = int(total * self._positive_share(app)) if app else 0
        share = positive / total if total else 0.0
        desc = (
            "No user reviews"
            if not total
            else ("Very Positive" if share >= 0.8 else "Mixed" if share >= 0.4 else "Negative")
        )
        return {
            "review_score": int(share * 9) if total else 0,
            "review_score_desc": desc,
            "total_positive": positive,
            "total_negative": total - positive,
            "total_reviews": total,
        }


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
