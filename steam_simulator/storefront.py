"""The store endpoints (store.steampowered.com): app details and reviews. No key; IP rate-limited."""

from __future__ import annotations

from typing import Any

from steam_simulator.endpoints import Call, Endpoint
from steam_simulator.replies import HTML_TYPE, Reply, json_reply


def app_details(call: Call) -> Reply:
    """`/api/appdetails?appids=N[,M]&cc=us&l=english[&filters=price_overview]`.

    Unknown or delisted apps: `{"N": {"success": false}}`. Several appids only with
    `filters=price_overview` (free apps then give `"data": []`); otherwise the store answers
    400 with `null`, as it does for a missing or malformed `appids`.
    """
    raw = [a.strip() for a in (call.params.get("appids") or "").split(",") if a.strip()]
    if not raw or not all(a.isdigit() for a in raw):
        return json_reply(None, 400)
    price_only = "price_overview" in (call.params.get("filters") or "").split(",")
    if len(raw) > 1 and not price_only:
        return json_reply(None, 400)
    cc = call.params.get("cc", "us")
    store = call.world.store
    out: dict[str, Any] = {}
    for text in raw:
        app = store.listed(int(text))
        if app is None:
            out[text] = {"success": False}
        elif price_only:
            price = store.price_overview(app, cc)
            out[text] = {"success": True, "data": {"price_overview": price} if price else []}
        else:
            out[text] = {"success": True, "data": store.details(app, cc, call.now)}
    return json_reply(out)


def app_reviews(call: Call) -> Reply:
    """`/appreviews/<appid>?json=1&cursor=*&filter=recent&num_per_page=20&language=all&day_range=365`."""
    if call.params.get("json") != "1":
        return Reply(
            200, b'<div class="review_box">Reviews are shown as HTML without json=1</div>', HTML_TYPE
        )
    appid = int(call.path_arg or 0)
    app = call.world.catalog.get(appid)
    return json_reply(call.world.reviews.page(app, call.now, call.params))


STORE_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("store/appdetails", app_details, web_api=False),
    Endpoint("store/appreviews", app_reviews, web_api=False),
)
