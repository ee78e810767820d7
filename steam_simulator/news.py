"""News posts per app, generated week by week so `enddate` + `count` paging reaches back in time.

Each app gets a seeded number of posts in every week since `NEWS_EPOCH` (or since its release);
only posts dated at or before the simulator's clock are visible, so news keeps appearing while it
runs and a backfill of a past day always finds the same posts. Community announcements (feed_type 1)
carry BBCode, external articles (feed_type 0) HTML; titles mix Korean, Chinese, Cyrillic, Japanese
and emoji. Some apps answer in the old shape without `feed_type` and `appid`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from steam_simulator.catalog import App, Catalog
from steam_simulator.seeding import rng, unit

NEWS_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z
WEEK = 7 * 86_400
OLD_SHAPE_SHARE = 0.1
_EXTERNAL_FEEDS = (
    ("pcgamer", "PC Gamer"), ("rps", "Rock, Paper, Shotgun"), ("eurogamer", "Eurogamer"),
    ("gamespot", "GameSpot"),
)  # fmt: skip
_ANNOUNCEMENTS = ("steam_community_announcements", "Community Announcements")
_TITLES: dict[str, tuple[str, ...]] = {
    "en": ("Patch {v} is live", "Weekend event: double XP", "Developer update #{n}",
           "Season {n} begins now", "Hotfix {v}", "Winter Sale: up to 60% off", "Roadmap for {y}"),
    "ko": ("업데이트 노트 {v}", "주말 이벤트 안내", "개발자 노트 #{n}"),
    "zh": ("版本更新公告 {v}", "周末活动开启", "开发者日志 #{n}"),
    "ru": ("Обновление {v} уже доступно", "Выходные с двойным опытом", "Дневник разработчиков №{n}"),  # noqa: RUF001
    "ja": ("アップデート {v} 配信開始", "週末イベントのお知らせ"),
    "emoji": ("🎉 Update {v} is here!", "🔥 Season {n} 🔥", "🛠️ Hotfix {v} ✅"),
}  # fmt: skip
_LANG_WEIGHTS = (("en", 60), ("ko", 10), ("zh", 10), ("ru", 8), ("ja", 5), ("emoji", 7))


@dataclass(frozen=True)
class Post:
    """What decides a post: the rest (title, contents, url) is rendered from it on demand."""

    appid: int
    date: int
    gid: int
    feed_type: int  # 0 external HTML, 1 community announcement BBCode
    feedname: str
    major: float  # > 0 for a major update: its relative bump of the player count

    @property
    def is_patch(self) -> bool:
        """Patch notes: an announcement tagged `patchnotes` (every major update is one)."""
        return self.feed_type == 1 and (self.major > 0 or self.gid % 3 == 0)

    @property
    def tags(self) -> list[str]:
        """The item's `tags` (most items have none, and then no `tags` key)."""
        if self.is_patch:
            return ["patchnotes", "major_update"] if self.major else ["patchnotes"]
        if self.feed_type == 1 and self.gid % 5 == 0:
            return ["mod_reviewed"]
        return []


def old_shape(seed: int, appid: int) -> bool:
    """Apps whose news items lack `feed_type` and `appid`, like old API responses."""
    return unit(seed, "old-news-shape", appid) < OLD_SHAPE_SHARE


def weekly_rate(app: App) -> float:
    """Expected posts per week: busy live-service games post often, tiny games rarely, DLC never."""
    if app.kind == "dlc":
        return 0.0
    if app.tracked:
        return 2.0 + min(app.peak_players / 200_000, 2.0)
    return min(0.05 + app.peak_players / 5_000, 1.5)


class NewsFeed:
    """Seeded news for every app of a catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.seed = catalog.seed
        self._week = lru_cache(maxsize=200_000)(self._week_posts)

    def _first_week(self, app: App) -> int:
        return max(0, (app.release_time - NEWS_EPOCH) // WEEK)

    def _week_posts(self, appid: int, week: int) -> tuple[Post, ...]:
        """The posts of one week, newest first, with unique dates (so `enddate` paging is exact)."""
        app = self.catalog.apps[appid]
        gen = rng(self.seed, "news", appid, week)
        rate = weekly_rate(app)
        count = int(rate) + (1 if gen.random() < rate - int(rate) else 0)
        start = NEWS_EPOCH + week * WEEK
        dates = sorted({start + gen.randrange(WEEK) for _ in range(count)}, reverse=True)
        posts = []
        for date in dates:
            if date < app.release_time - 30 * 86_400:
                continue  # nothing more than a month before the announcement
            feed_type = 1 if gen.random() < 0.6 else 0
            major = gen.uniform(0.1, 0.5) if feed_type == 1 and gen.random() < 0.15 else 0.0
            gid = 5_000_000_000_000_000_000 + gen.getrandbits(59)
            feedname = _ANNOUNCEMENTS[0] if feed_type == 1 else gen.choice(_EXTERNAL_FEEDS)[0]
            posts.append(Post(appid, date, gid, feed_type, feedname, major))
        return tuple(posts)

    def posts(self, appid: int, now: float, before: float | None = None) -> list[Post]:
        """Every visible post of `appid` at `now`, newest first, optionally only those older than `before`."""
        app = self.catalog.get(appid)
        if app is None:
            return []
        limit = now if before is None else min(now, before - 1)
        if limit < NEWS_EPOCH:
            return []
        out: list[Post] = []
        for week in range(int(limit - NEWS_EPOCH) // WEEK, self._first_week(app) - 1, -1):
            out += [p for p in self._week(appid, week) if p.date <= limit]
        return out

    def latest(
        self,
        appid: int,
        now: float,
        count: int,
        before: float | None = None,
        keep: Callable[[Post], bool] | None = None,
    ) -> list[Post]:
        """The newest `count` visible posts older than `before` and kept by `keep` (reads few weeks)."""
        app = self.catalog.get(appid)
        if app is None or count <= 0:
            return []
        limit = now if before is None else min(now, before - 1)
        out: list[Post] = []
        week = int(limit - NEWS_EPOCH) // WEEK
        while week >= self._first_week(app) and len(out) < count:
            out += [p for p in self._week(appid, week) if p.date <= limit and (keep is None or keep(p))]
            week -= 1
        return out[:count]

    def major_updates(self, appid: int, now: float, window_s: int) -> list[Post]:
        """Major updates published in the `window_s` seconds before `now` (they lift player counts)."""
        app = self.catalog.get(appid)
        if app is None or now < NEWS_EPOCH:
            return []
        out: list[Post] = []
        last = int(now - NEWS_EPOCH) // WEEK
        for week in range(last, max(self._first_week(app), last - window_s // WEEK - 1) - 1, -1):
            out += [p for p in self._week(appid, week) if p.major and now - window_s <= p.date <= now]
        return out

    def render(self, post: Post, maxlength: int = 0) -> dict[str, Any]:
        """The JSON news item Steam would send for `post` (old shape for some apps)."""
        app = self.catalog.apps[post.appid]
        gen = rng(self.seed, "news-text", post.gid)
        lang = gen.choices([code for code, _ in _LANG_WEIGHTS], [w for _, w in _LANG_WEIGHTS])[0]
        year = 1970 + post.date // 31_557_600
        version = f"{1 + post.gid % 4}.{post.gid % 17}.{post.gid % 7}"
        title = gen.choice(_TITLES[lang]).format(v=version, n=1 + post.gid % 90, y=year + 1)
        feedname = post.feedname
        if post.feed_type == 1:
            feedlabel = _ANNOUNCEMENTS[1]
            contents = _bbcode(gen, app.name, version, post.is_patch)
            url = f"https://steamstore-a.akamaihd.net/news/externalpost/{feedname}/{post.gid}"
            author = f"{app.name} Team" if gen.random() < 0.7 else "Community Manager"
        else:
            feedlabel = dict(_EXTERNAL_FEEDS)[feedname]
            contents = _html(gen, app.name, title)
            url = f"https://www.{feedname}.example/news/{post.appid}-{post.gid}"
            author = gen.choice(("Jane Doe", "Иван Петров", "김민수", "李华", ""))
        if maxlength and len(contents) > maxlength:
            contents = contents[:maxlength] + "..."
        item: dict[str, Any] = {
            "gid": str(post.gid),
            "title": title,
            "url": url,
            "is_external_url": post.feed_type == 0,
            "author": author,
            "contents": contents,
            "feedlabel": feedlabel,
            "date": post.date,
            "feedname": feedname,
        }
        if not old_shape(self.seed, post.appid):
            item["feed_type"] = post.feed_type
            item["appid"] = post.appid
        if post.tags:
            item["tags"] = post.tags
        return item


def _bbcode(gen: Any, name: str, version: str, patch: bool) -> str:
    """A community announcement in Steam's BBCode, sometimes long."""
    fixes = "".join(
        f"[*]Fixed issue #{gen.randrange(1000, 99999)} in {name}" for _ in range(gen.randint(2, 40))
    )
    head = f"[h1]{'Patch ' + version if patch else 'News from the team'}[/h1]"
    body = f"[p]Thanks for playing [b]{name}[/b]![/p][list]{fixes}[/list]"
    image = f"[img]{{STEAM_CLAN_IMAGE}}/{gen.randrange(10**7)}/{gen.getrandbits(64):016x}.png[/img]"
    return head + body + image + "[url=https://store.steampowered.com/]Store page[/url]"


def _html(gen: Any, name: str, title: str) -> str:
    """An external article's HTML, from a paragraph to many kilobytes."""
    paragraphs = "".join(
        f"<p>{name} players noticed change {gen.randrange(10**6)} &amp; more &mdash; details inside.</p>"
        for _ in range(gen.randint(1, 60))
    )
    link = f'<p><a href="https://example.com/{gen.randrange(10**6)}">Read more</a></p>'
    return f"<h2>{title}</h2>{paragraphs}{link}"
