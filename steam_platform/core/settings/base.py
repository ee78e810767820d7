"""The machinery of the settings: how a variable is declared, read, validated and explained.

A group (`SettingsGroup`) is a `pydantic-settings` model whose fields are read from flat variable
names (`setting("KAFKA_BOOTSTRAP_SERVERS", ...)`). Precedence: the process environment; then, in the
local environment, the stack's env file (`$STEAM_STACK_DIR/env`); then the local stack's value of
the few variables whose production default means something else (e.g. unset `S3_ENDPOINT_URL` is AWS
S3); then the declared default. A bad value fails with a `SettingsError` that names the variable and
never quotes a secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Environment(StrEnum):
    """Deployment targets with their own resource wiring."""

    LOCAL = "local"
    PRODUCTION = "production"


class Production(StrEnum):
    """How the production environment uses a variable (the docs table's "production" column)."""

    #: Read when the code location loads; unset: the default.
    LOAD = "read at load"
    #: Must be set; handed to the resource as `dg.EnvVar`, resolved when a run uses it.
    REQUIRED = "required (`EnvVar`)"
    #: Handed to the resource as `dg.EnvVar` when set in the process that loads the code location.
    ENV_VAR = "`EnvVar` if set"
    #: Read by Dagster itself from `deploy/dagster.yaml`, not by the platform's code.
    DAGSTER = "required (read by Dagster)"
    #: Set by the platform in the environment of the Spark jobs it launches.
    HANDOFF = "set by the platform"
    #: Only the local stack or its tools read it.
    UNUSED = "-"


class SettingsError(ValueError):
    """A variable holds a value the platform cannot use; the message names the variable."""


def setting(
    name: str,
    default: Any,
    description: str,
    *,
    production: Production = Production.LOAD,
    local: Any = None,
    shown_default: str | None = None,
    credential: bool = False,
    **field_kwargs: Any,
) -> Any:
    """A settings field read from the variable `name`.

    `local`: the local stack's value, used in the local environment when neither the process nor
    the stack's env file sets the variable (e.g. the stack's S3 endpoint, where production's unset
    means AWS). `shown_default`: how the docs show a default that is not a plain value.
    `credential`: a plain-text field that resources take as `dg.EnvVar` like a `SecretStr` (an
    access key id); every `SecretStr` field is a credential anyway.
    """
    extra: dict[str, Any] = {"production": production.value}
    if credential:
        extra["credential"] = True
    if local is not None:
        extra["local"] = local
    if shown_default is not None:
        extra["shown_default"] = shown_default
    return Field(
        default, validation_alias=name, description=description, json_schema_extra=extra, **field_kwargs
    )


class SettingsGroup(BaseSettings):
    """Variables of one concern, read with the platform's precedence (see the module docstring)."""

    model_config = SettingsConfigDict(
        extra="ignore",
        case_sensitive=True,  # as os.environ: `kafka_brokers` is not KAFKA_BROKERS
        env_ignore_empty=True,  # an empty variable counts as unset
        hide_input_in_errors=True,
        frozen=True,
    )

    #: The group's heading in the docs.
    heading: ClassVar[str]
    #: Whether the local stack's env file backs the group in the local environment (the stack's
    #: own tools and the environment selection read the process environment only).
    stack_env_fallback: ClassVar[bool] = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The process environment wins, then the stack's env file; keyword arguments come last:
        # `load()` passes the local stack's defaults there, below anything that is set.
        return env_settings, dotenv_settings, init_settings

    @classmethod
    def load(cls, env: Environment | None = None) -> Self:
        """The group for `env` (default: `STEAM_PLATFORM_ENV`): locally backed by the stack's env file."""
        if cls.stack_env_fallback and (env or current_environment()) is Environment.LOCAL:
            return cls._build(stack_dir() / "env", cls.local_defaults())
        return cls._build(None, {})

    @classmethod
    def from_process_environment(cls) -> Self:
        """The group from the process environment alone (what a `dg.EnvVar` would resolve)."""
        return cls._build(None, {})

    @classmethod
    def _build(cls, env_file: Path | None, fallbacks: dict[str, Any]) -> Self:
        try:
            return cls(_env_file=env_file, **fallbacks)  # type: ignore[call-arg]
        except ValidationError as exc:
            raise SettingsError(cls._explain(exc)) from None

    @classmethod
    def _explain(cls, exc: ValidationError) -> str:
        """`NAME='value' reason` per error; a secret's value is never quoted."""
        secret_names = {
            cls.env_name(f) for f, info in cls.model_fields.items() if _is_secret(info.annotation)
        }
        parts = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else cls.__name__
            shown = "" if name in secret_names else f"={error.get('input')!r}"
            reason = (error.get("ctx") or {}).get("error")  # our validators' own words
            parts.append(f"{name}{shown} {reason}" if reason else f"{name}{shown}: {error['msg']}")
        return "; ".join(parts)

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable behind `field` (e.g. `KafkaSettings.env_name("bootstrap_servers")`)."""
        alias = cls.model_fields[field].validation_alias
        assert isinstance(alias, str), f"{cls.__name__}.{field} has no variable name"
        return alias

    @classmethod
    def local_defaults(cls) -> dict[str, Any]:
        """The local stack's values by variable name, for variables whose local default differs."""
        return {
            cls.env_name(name): extra["local"]
            for name, info in cls.model_fields.items()
            if isinstance(extra := info.json_schema_extra, dict) and "local" in extra
        }

    @classmethod
    def credential_names(cls) -> list[str]:
        """The variables of the group's credentials (`SecretStr` fields and `credential=True` ones)."""
        return [cls.env_name(name) for name, info in cls.model_fields.items() if _is_credential(info)]

    def is_set(self, field: str) -> bool:
        """Whether `field` has a non-empty value (a secret's value counts, masked or not)."""
        value = getattr(self, field)
        return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def _is_secret(annotation: Any) -> bool:
    return SecretStr in getattr(annotation, "__args__", ()) or annotation is SecretStr


def _is_credential(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return _is_secret(info.annotation) or (isinstance(extra, dict) and extra.get("credential") is True)


def reveal(secret: SecretStr | None) -> str | None:
    """A secret's value for a client that needs it (None when unset)."""
    return secret.get_secret_value() if secret is not None else None


class PlatformSettings(SettingsGroup):
    """Which resources the code location wires, and where the local stack keeps its state."""

    heading: ClassVar[str] = "Environment"
    stack_env_fallback: ClassVar[bool] = False

    environment: Environment = setting(
        "STEAM_PLATFORM_ENV",
        Environment.LOCAL,
        "`local`: resources on the local stack; `production`: every endpoint and secret from the environment",
    )
    stack_dir: Path | None = setting(
        "STEAM_STACK_DIR",
        None,
        "the local stack's folder (servers' data, logs, its `env` file); unset: `.stack/` in the "
        "working directory (the stack CLI: in the checkout)",
    )

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            allowed = [e.value for e in Environment]
            if value not in allowed:
                raise ValueError(f"is not one of: {', '.join(allowed)}")
        return value


def current_environment() -> Environment:
    """The environment selected by `STEAM_PLATFORM_ENV` (default `local`)."""
    return PlatformSettings.load().environment


def stack_dir() -> Path:
    """The local stack's folder (`STEAM_STACK_DIR`, else `.stack` in the working directory)."""
    return (PlatformSettings.load().stack_dir or Path.cwd() / ".stack").resolve()


def read_env_file(path: Path) -> dict[str, str]:
    """The `export KEY=value` lines of a stack env file (missing file: empty)."""
    return {k: v or "" for k, v in dotenv_values(path).items()} if path.is_file() else {}


#: The credentials `export_stack_credentials` copied into this process's environment, by variable.
_copied_credentials: dict[str, str] = {}


def export_stack_credentials(groups: Iterable[type[SettingsGroup]], env: Environment | None = None) -> None:
    """Locally, copy the credentials of `groups` that the stack's env file holds into this process's
    environment, so that resources can take every credential as `dg.EnvVar`.

    The UI shows an `EnvVar`'s name, never its value; a run resolves it in this process or in a
    process started from it (a run worker of the code server), which inherits the environment.
    A variable the process environment already sets wins and is left alone, as when loading. A value
    copied here earlier follows the file: replaced when the file changes (a stack brought up again
    with a new password), removed when the file no longer holds it, and in `production`, which reads
    the process environment only.
    """
    local = (env or current_environment()) is Environment.LOCAL
    stack = read_env_file(stack_dir() / "env") if local else {}
    for group in groups:
        for name in group.credential_names():
            current = os.environ.get(name) or None
            copied = current is not None and _copied_credentials.get(name) == current
            if current is not None and not copied:
                continue  # set by whoever started this process: it wins
            value = stack.get(name) if group.stack_env_fallback else None
            if value:
                os.environ[name] = _copied_credentials[name] = value
            elif copied:
                del os.environ[name]
                del _copied_credentials[name]


@contextmanager
def credentials_withheld(names: Iterable[str]) -> Iterator[None]:
    """The variables `names` out of the process environment while the block runs, then back.

    For starting a child that gets the credentials another way and must not inherit them: the
    Spark driver's JVM, whose S3A keys travel in its Hadoop configuration (its environment is
    readable for as long as it runs). The process resolved its `EnvVar`s before.
    """
    held = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(held)
