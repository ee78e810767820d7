"""Minimal contracts each topic's payload must meet before it is produced (pydantic validation).

Payloads stay Steam's objects (extra fields pass through untouched); these models only check what
downstream stages rely on. A payload that fails goes to the dead-letter topic with the reason.
Which model a topic's payloads meet is its source's `payload_contract` (the class name, see
`steam_platform/core/sources.py`): a new source's model is a new `_SteamObject` subclass here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from steam_platform.core.sources import SOURCES


class _SteamObject(BaseModel):
    model_config = ConfigDict(extra="allow")


class PlayerCountPayload(_SteamObject):
    """GetNumberOfCurrentPlayers' `response` object plus the requested appid (Steam omits it)."""

    appid: int = Field(gt=0)
    result: int
    player_count: int | None = Field(default=None, ge=0)


class NewsPayload(_SteamObject):
    """One GetNewsForApp news item; `gid` is a 64-bit id kept as a string."""

    gid: str
    appid: int = Field(gt=0)
    title: str
    url: str
    date: int = Field(gt=0)
    contents: str = ""

    @field_validator("gid")
    @classmethod
    def _gid_is_numeric(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("gid must be a decimal string")
        return value


class AppPayload(_SteamObject):
    """An app from the catalogue (GetAppList) optionally merged with its store details."""

    appid: int = Field(gt=0)
    name: str


class PlaytimePayload(_SteamObject):
    """A tracked player's game from GetRecentlyPlayedGames / GetOwnedGames (minutes)."""

    steamid: str
    appid: int = Field(gt=0)
    playtime_forever: int = Field(ge=0)

    @field_validator("steamid")
    @classmethod
    def _steamid_is_64bit_string(cls, value: str) -> str:
        if not (value.isdigit() and len(value) == 17):
            raise ValueError("steamid must be a 17-digit string")
        return value


def _contracts() -> dict[str, type[_SteamObject]]:
    """Each source's topic -> the model its `payload_contract` names (a missing one fails the load)."""
    models = {model.__name__: model for model in _SteamObject.__subclasses__()}
    missing = sorted({s.payload_contract for s in SOURCES} - set(models))
    if missing:
        raise LookupError(f"payload contracts named by sources but not defined here: {', '.join(missing)}")
    return {source.topic: models[source.payload_contract] for source in SOURCES}


#: topic -> the payload contract its events must meet.
CONTRACTS: dict[str, type[_SteamObject]] = _contracts()


def validation_error(topic: str, payload: dict[str, Any]) -> str | None:
    """None when `payload` meets `topic`'s contract, else a short human-readable reason."""
    try:
        CONTRACTS[topic].model_validate(payload)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())[:500]
    return None
