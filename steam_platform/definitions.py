"""The code location: every layer's definitions merged, resources chosen per environment."""

from __future__ import annotations

import dagster as dg

from steam_platform.assets import bus
from steam_platform.resources.wiring import build_resources

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([bus]),
    asset_checks=dg.load_asset_checks_from_modules([bus]),
    resources=build_resources(),
)
