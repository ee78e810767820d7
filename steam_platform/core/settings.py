"""Which environment the platform runs in, and where the local stack's endpoints come from.

`STEAM_PLATFORM_ENV=local` (default) points every resource at the local stack: its endpoints are
read from the process environment, falling back to the `env` file `stack up` writes into the
stack folder (`STEAM_STACK_DIR`, default `.stack/` in the working directory). `production` takes
every endpoint and secret from environment variables (Dagster `EnvVar`, see `resources/wiring.py`).

Library, and why: `pydantic-settings` reads typed settings from the environment and a dotenv file
with the precedence we want (process environment first, then the file, then the default) and
rejects bad values with the variable's name; `python-dotenv` (its dotenv reader) parses the
`export KEY='value'` lines the stack writes. The platform never imports the local-stack tooling:
it only reads the file the tooling leaves.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from dotenv import dotenv_values
from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STEAM_API_BASE_URL = "https://api.steampowered.com"
STEAM_STORE_BASE_URL = "https://store.steampowered.com"


class Environment(StrEnum):
    """Deployment targets with their own resource wiring."""

    LOCAL = "local"
    PRODUCTION = "production"


class PlatformSettings(BaseSettings):
    """`STEAM_PLATFORM_ENV` (local or production) and `STEAM_STACK_DIR` (the local stack's folder)."""

    model_config = SettingsConfigDict(extra="ignore")

    steam_platform_env: Environment = Environment.LOCAL
    steam_stack_dir: Path | None = None

    @field_validator("steam_platform_env", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


def current_environment() -> Environment:
    """The environment selected by `STEAM_PLATFORM_ENV` (default `local`)."""
    try:
        return PlatformSettings().steam_platform_env
    except ValidationError as exc:
        value = exc.errors()[0].get("input")
        allowed = ", ".join(e.value for e in Environment)
        raise ValueError(f"STEAM_PLATFORM_ENV={value!r} is not one of: {allowed}") from None


def stack_dir() -> Path:
    """The local stack's folder (`STEAM_STACK_DIR`, else `.stack` in the working directory)."""
    return (PlatformSettings().steam_stack_dir or Path.cwd() / ".stack").resolve()


def read_env_file(path: Path) -> dict[str, str]:
    """The `export KEY=value` lines of a stack env file (missing file: empty)."""
    return {k: v or "" for k, v in dotenv_values(path).items()} if path.is_file() else {}


class LocalEndpoints(BaseSettings):
    """The local stack's endpoints and credentials: process environment, then the stack's env file.

    Build with `LocalEndpoints.load()`; defaults are the stack's default ports.
    """

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=False)

    kafka_bootstrap_servers: str = "127.0.0.1:19093"
    kafka_brokers: int = 1
    #: PLAINTEXT, or SASL_SSL with the SCRAM user and the CA `stack up --kafka-security sasl_ssl` made.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_ca_location: str | None = None
    elasticsearch_url: str = "http://127.0.0.1:19200"
    kibana_url: str | None = None
    s3_endpoint_url: str = "http://127.0.0.1:19000"
    aws_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    lake_bucket: str = "steam-lake"
    steam_api_base_url: str = STEAM_API_BASE_URL
    steam_store_base_url: str = STEAM_STORE_BASE_URL
    steam_api_key: str | None = None
    #: The Spark connector jars `stack up` resolved (colon-separated paths or a folder).
    steam_spark_jars: str | None = None
    #: The stack's Spark standalone master (`spark://127.0.0.1:<port>`, `stack up --spark-cluster`);
    #: None: Spark runs `local[2]` in the run's process.
    spark_master: str | None = None

    @classmethod
    def load(cls) -> LocalEndpoints:
        """The settings with the current stack folder's env file as the fallback."""
        return cls(_env_file=stack_dir() / "env")  # type: ignore[call-arg]
