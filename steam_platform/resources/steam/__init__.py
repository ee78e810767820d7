"""Steam Web API and store client: transport, budget, pace, parsers and typed errors."""

from steam_platform.resources.steam.client import (
    EP_APP_LIST,
    EP_APPDETAILS,
    EP_NEWS,
    EP_OWNED,
    EP_PLAYERS,
    EP_RECENT,
    EP_SUMMARIES,
    PATHS,
    SteamClient,
)
from steam_platform.resources.steam.errors import (
    SteamAppError,
    SteamAuthError,
    SteamBudgetExhausted,
    SteamError,
    SteamForbidden,
    SteamKeyMissing,
    SteamMalformedResponse,
    SteamNotFound,
    SteamSourceError,
    SteamUnavailable,
)
from steam_platform.resources.steam.parsing import AppDetails, AppListPage, NewsPage, PlayerCount, PlayerGames
from steam_platform.resources.steam.transport import CallStats, SteamRetrySettings

__all__ = [
    "EP_APPDETAILS",
    "EP_APP_LIST",
    "EP_NEWS",
    "EP_OWNED",
    "EP_PLAYERS",
    "EP_RECENT",
    "EP_SUMMARIES",
    "PATHS",
    "AppDetails",
    "AppListPage",
    "CallStats",
    "NewsPage",
    "PlayerCount",
    "PlayerGames",
    "SteamAppError",
    "SteamAuthError",
    "SteamBudgetExhausted",
    "SteamClient",
    "SteamError",
    "SteamForbidden",
    "SteamKeyMissing",
    "SteamMalformedResponse",
    "SteamNotFound",
    "SteamRetrySettings",
    "SteamSourceError",
    "SteamUnavailable",
]
