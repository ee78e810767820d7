"""Store page data (`/api/appdetails`) for the catalogue, with the store's known quirks.

`required_age` is an int for most apps and a string for some; `pc_requirements` is `[]` for some;
genre ids are strings and category ids ints; prices are in minor units of the country's currency;
free apps have no `price_overview`. About 2% of apps are delisted: the store answers
`{"success": false}` for them as for unknown ids, although the Web API still knows them.
"""

from __future__ import annotations

import time
from typing import Any

from steam_simulator.catalog import App, Catalog
from steam_simulator.seeding import rng, unit

_GENRES = (("1", "Action"), ("2", "Strategy"), ("3", "RPG"), ("4", "Casual"), ("23", "Indie"),
           ("25", "Adventure"), ("28", "Simulation"), ("29", "Massively Multiplayer"),
           ("37", "Free To Play"))  # fmt: skip
_CATEGORIES = ((1, "Multi-player"), (2, "Single-player"), (9, "Co-op"), (22, "Steam Achievements"),
               (29, "Steam Trading Cards"), (36, "Online PvP"), (62, "Family Sharing"))  # fmt: skip
_STUDIOS = ("Valve", "Iron Gate", "Re-Logic", "Larian Studios", "Pocketpair", "CD PROJEKT RED", "Arrowhead",
            "Indie Dev", "ConcernedApe", "株式会社ゲーム", "Студия Север", "넥슨")  # fmt: skip
#: cc -> (currency, minor units per US cent, format)
#: (Steam really writes roubles with a Latin "p" followed by Cyrillic letters.)
_CURRENCIES = {"us": ("USD", 1.0, "${:.2f}"), "gb": ("GBP", 0.8, "£{:.2f}"), "de": ("EUR", 0.92, "{:.2f}€"),
               "fr": ("EUR", 0.92, "{:.2f}€"), "jp": ("JPY", 1.5, "¥ {:.0f}"),
               "ru": ("RUB", 90.0, "{:.0f} pуб.")}  # fmt: skip # noqa: RUF001
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DELISTED_SHARE = 0.02


def delisted(seed: int, app: App) -> bool:
    """Generated apps removed from the store (never tracked ones)."""
    return not app.tracked and unit(seed, "delisted", app.appid) < DELISTED_SHARE


def is_free(seed: int, app: App) -> bool:
    """Free-to-play apps (about 10%): no price, `is_free: true`."""
    return unit(seed, "free", app.appid) < 0.1


def price_cents(seed: int, app: App) -> int:
    """The app's US price in cents (x.99 prices between $0.99 and $69.99)."""
    return int(99 + 100 * int(70 * unit(seed, "price", app.appid) ** 2))


def release_date_text(ts: int) -> str:
    """Steam's English release date text, e.g. '21 Aug, 2012'."""
    tm = time.gmtime(ts)
    return f"{tm.tm_mday} {_MONTHS[tm.tm_mon - 1]}, {tm.tm_year}"


class Storefront:
    """The store's app pages for a catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.seed = catalog.seed

    def listed(self, appid: int) -> App | None:
        """The app if the store shows a page for it, else None (unknown or delisted)."""
        app = self.catalog.get(appid)
        if app is None or delisted(self.seed, app):
            return None
        return app

    def price_overview(self, app: App, cc: str) -> dict[str, Any] | None:
        """The store's price block in the country's currency (None for free apps)."""
        if is_free(self.seed, app):
            return None
        currency, rate, fmt = _CURRENCIES.get(cc.lower(), _CURRENCIES["us"])
        initial = round(price_cents(self.seed, app) * rate)
        discount = (0, 0, 0, 10, 25, 50, 75)[int(7 * unit(self.seed, "discount", app.appid))]
        final = int(initial * (100 - discount) / 100)
        return {
            "currency": currency,
            "initial": initial,
            "final": final,
            "discount_percent": discount,
            "initial_formatted": fmt.format(initial / 100) if discount else "",
            "final_formatted": fmt.format(final / 100),
        }

    def details(self, app: App, cc: str, now: float) -> dict[str, Any]:
        """The full `data` object of appdetails."""
        gen = rng(self.seed, "store", app.appid)
        age: int | str = gen.choice((0, 0, 0, 13, 16, 17, 18))
        if unit(self.seed, "age-as-text", app.appid) < 0.25:
            age = str(age)  # the store sends some ages as strings
        studio = gen.choice(_STUDIOS)
        free = is_free(self.seed, app)
        data: dict[str, Any] = {
            "type": app.kind if app.kind != "application" else "software",
            "name": app.name,
            "steam_appid": app.appid,
            "required_age": age,
            "is_free": free,
            "detailed_description": f"<h1>{app.name}</h1><p>The full story of {app.name}.</p>",
            "about_the_game": f"<p>{app.name} by {studio}.</p>",
            "short_description": f"{app.name}: a {gen.choice(_GENRES)[1].lower()} experience by {studio}.",
            "supported_languages": "English<strong>*</strong>, Korean, Simplified Chinese, Russian",
            "header_image": f"https://shared.akamai.steamstatic.com/store_item_assets/steam/apps/{app.appid}/header.jpg",
            "website": None if gen.random() < 0.3 else f"https://example.com/{app.appid}",
            "pc_requirements": []
            if gen.random() < 0.15
            else {"minimum": "<strong>Minimum:</strong><br><ul><li>OS: Windows 10</li></ul>"},
            "mac_requirements": [],
            "linux_requirements": [],
            "developers": [studio],
            "publishers": [gen.choice(_STUDIOS)],
            "platforms": {"windows": True, "mac": gen.random() < 0.3, "linux": gen.random() < 0.2},
            "categories": [
                {"id": i, "description": d} for i, d in sorted(gen.sample(_CATEGORIES, gen.randint(1, 4)))
            ],
            "genres": [{"id": i, "description": d} for i, d in gen.sample(_GENRES, gen.randint(1, 3))],
            "release_date": {
                "coming_soon": not app.released(now),
                "date": release_date_text(app.release_time),
            },
        }
        price = self.price_overview(app, cc)
        if price:
            data["price_overview"] = price
        if app.kind == "dlc" and app.parent:
            data["fullgame"] = {"appid": str(app.parent), "name": self.catalog.apps[app.parent].name}
        if gen.random() < 0.3:
            data["metacritic"] = {"score": gen.randint(50, 97), "url": "https://www.metacritic.com/game/x"}
        if app.kind == "game" and app.released(now):
            data["recommendations"] = {"total": int(app.peak_players * 3 + gen.randint(0, 500))}
        return data
