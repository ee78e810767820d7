"""Every environment variable the platform and its tools read: one typed settings object.

Each variable is declared once (`groups.py`) with its name, type, default and a one-line
description; `docs/operating.md` lists them from these declarations
(`python -m steam_platform.core.settings --write docs/operating.md`, see `table.py`) and a test
fails when the table and the declarations differ. No other module of `steam_platform/`,
`steam_devstack/` or `steam_simulator/` reads `os.environ` (a test checks that too); `streaming/`
cannot import the platform, so `streaming/environment.py` is its one reader, and the names and
Spark defaults it shares with the settings are imported from there.

`STEAM_PLATFORM_ENV=local` (default) points every resource at the local stack: a setting comes from
the process environment, else from the `env` file `stack up` writes into the stack folder
(`STEAM_STACK_DIR`, default `.stack/` in the working directory), else the local stack's default,
else the declared default. `production` reads the process environment only, and the production
wiring (`resources/wiring.py`) hands endpoints and secrets to resources as `dg.EnvVar(<name>)`, so
they resolve when a run uses them and never show as resource config; `env_name()` gives the names.
Credentials (`credential_names()`) are `EnvVar`s in every environment: locally,
`export_stack_credentials` first copies those the stack's env file holds into the process
environment (the one write to it outside the stack tools), so an `EnvVar` resolves there too.

Groups: `Settings` holds one group per concern (platform, schedule, Dagster instance, Kafka, lake,
Spark, search, Steam, local stack tools). A module loads only the group it needs
(`KafkaSettings.load()`), which keeps a load cheap; `Settings.load()` loads them all.

Libraries, and why: `pydantic-settings` reads typed settings from the environment and a dotenv file
with the precedence we want and rejects bad values (the error names the variable and never quotes a
secret); `python-dotenv` (its dotenv reader) parses the `export KEY='value'` lines the stack
writes. The platform never imports the local-stack tooling: it only reads the file the tooling
leaves. Secrets are `SecretStr`: their repr and str are masked.
"""

from steam_platform.core.settings.base import (
    Environment,
    PlatformSettings,
    Production,
    SettingsError,
    SettingsGroup,
    credentials_withheld,
    current_environment,
    export_stack_credentials,
    read_env_file,
    reveal,
    setting,
    stack_dir,
)
from steam_platform.core.settings.groups import (
    DEFAULT_TRACKED_CONFIG,
    STEAM_API_BASE_URL,
    STEAM_STORE_BASE_URL,
    DagsterSettings,
    KafkaSettings,
    LakeSettings,
    MonitoringSettings,
    ReaskSettings,
    RunSupervisionSettings,
    ScheduleSettings,
    SearchSettings,
    Settings,
    SparkSettings,
    StackToolSettings,
    SteamSettings,
)

__all__ = [
    "DEFAULT_TRACKED_CONFIG",
    "STEAM_API_BASE_URL",
    "STEAM_STORE_BASE_URL",
    "DagsterSettings",
    "Environment",
    "KafkaSettings",
    "LakeSettings",
    "MonitoringSettings",
    "PlatformSettings",
    "Production",
    "ReaskSettings",
    "RunSupervisionSettings",
    "ScheduleSettings",
    "SearchSettings",
    "Settings",
    "SettingsError",
    "SettingsGroup",
    "SparkSettings",
    "StackToolSettings",
    "SteamSettings",
    "credentials_withheld",
    "current_environment",
    "export_stack_credentials",
    "read_env_file",
    "reveal",
    "setting",
    "stack_dir",
]
