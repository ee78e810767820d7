"""The platform's variables, one group per concern; `Settings` holds them all.

Every field is one environment variable: its name, type, default and a one-line description (the
docs table in `docs/operating.md` is generated from these declarations). Names and defaults that
`streaming/` shares come from `streaming/environment.py`, the only place that package may read them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from steam_platform.core.constants import STEAM_RETRY_BACKOFF_MAX_S, STEAM_RETRY_MAX_ATTEMPTS
from steam_platform.core.settings.base import (
    Environment,
    PlatformSettings,
    Production,
    SettingsGroup,
    current_environment,
    setting,
)
from streaming.environment import (
    AWS_REGION_ENV,
    BRONZE_KAFKA_OPTIONS_ENV,
    BRONZE_LEASE_HEARTBEAT_S_ENV,
    BRONZE_LEASE_TTL_S_ENV,
    DEFAULT_AWS_REGION,
    DEFAULT_DRIVER_MEMORY,
    DEFAULT_LEASE_HEARTBEAT_S,
    DEFAULT_LEASE_TTL_S,
    DEFAULT_SPARK_MASTER,
    S3_ENDPOINT_URL_ENV,
    SPARK_JARS_ENV,
)

STEAM_API_BASE_URL = "https://api.steampowered.com"
STEAM_STORE_BASE_URL = "https://store.steampowered.com"
DEFAULT_TRACKED_CONFIG = Path(__file__).resolve().parents[1] / "tracked.yaml"


class ScheduleSettings(SettingsGroup):
    """How often Steam is polled, where partitions start and what is tracked (read at load, so every
    Dagster process of a deployment must see the same values)."""

    heading: ClassVar[str] = "Schedules, partitions, tracked apps"

    poll_interval_minutes: int = setting(
        "STEAM_POLL_INTERVAL_MINUTES", 10, "player-count poll interval in minutes; must divide 60"
    )
    partitions_start: date = setting(
        "STEAM_PARTITIONS_START",
        date(2026, 10, 1),
        "first partition day (UTC, YYYY-MM-DD), not in the future; earlier days can be backfilled",
        validate_default=True,
    )
    tracked_config: Path = setting(
        "STEAM_TRACKED_CONFIG",
        DEFAULT_TRACKED_CONFIG,
        "YAML with the tracked `apps` (appids) and `players` (17-digit steamids)",
        shown_default="packaged `steam_platform/core/tracked.yaml`",
    )
    automation_interval_s: int = setting(
        "STEAM_AUTOMATION_INTERVAL_S",
        300,
        "how often `marts_automation_sensor` and `search_automation_sensor` evaluate their conditions "
        "(past days follow at most hourly anyway; each tick costs the daemon CPU over every partition)",
        gt=0,
    )

    @field_validator("poll_interval_minutes", mode="before")
    @classmethod
    def _divides_an_hour(cls, value: object) -> object:
        text = str(value).strip()
        if not text.isdigit() or int(text) < 1 or 60 % int(text):
            raise ValueError("must be a divisor of 60 (5, 10, 15, ...)")
        return int(text)

    @field_validator("partitions_start", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("is not a date (YYYY-MM-DD)") from None
        return value

    @field_validator("partitions_start")
    @classmethod
    def _not_in_the_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("is in the future: nothing to partition yet")
        return value


class DagsterSettings(SettingsGroup):
    """The Dagster instance: its folder, and the PostgreSQL storage `deploy/dagster.yaml` names."""

    heading: ClassVar[str] = "Dagster instance"
    #: Dagster reads them from its own process environment, never from the stack's env file.
    stack_env_fallback: ClassVar[bool] = False

    home: Path | None = setting(
        "DAGSTER_HOME",
        None,
        "the instance folder (`dagster.yaml`); the Steam call budget and store pace live in its `steam/`",
    )
    pg_host: str | None = setting(
        "DAGSTER_PG_HOST", None, "PostgreSQL host of the instance storage", production=Production.DAGSTER
    )
    pg_port: str | None = setting(
        "DAGSTER_PG_PORT", None, "PostgreSQL port of the instance storage", production=Production.DAGSTER
    )
    pg_user: str | None = setting(
        "DAGSTER_PG_USER", None, "PostgreSQL user of the instance storage", production=Production.DAGSTER
    )
    pg_password: SecretStr | None = setting(
        "DAGSTER_PG_PASSWORD",
        None,
        "PostgreSQL password of the instance storage",
        production=Production.DAGSTER,
    )
    pg_db: str | None = setting(
        "DAGSTER_PG_DB", None, "PostgreSQL database of the instance storage", production=Production.DAGSTER
    )


class RunSupervisionSettings(SettingsGroup):
    """How long each kind of run may take, and how often dead run workers are looked for.

    The defaults are sized from measured runtimes (`benchmarks/RESULTS.md`, 100 apps): a poll run
    takes ~8 s and a lake run p95 80 s / max 88 s; a daily catalogue and store-details run is paced
    by the store's rate limit (minutes per hundred apps). Each limit leaves an order of magnitude of
    room for catch-up after an outage; a run over it is failed by Dagster's run monitoring and asked
    for again. `0` means no limit."""

    heading: ClassVar[str] = "Run supervision"

    max_runtime_poll_s: int = setting(
        "STEAM_MAX_RUNTIME_POLL_S", 600, "maximum runtime of a player-count or player-activity poll run", ge=0
    )
    max_runtime_daily_ingest_s: int = setting(
        "STEAM_MAX_RUNTIME_DAILY_INGEST_S", 7200, "maximum runtime of a news or app-catalogue run", ge=0
    )
    max_runtime_lake_s: int = setting(
        "STEAM_MAX_RUNTIME_LAKE_S",
        1800,
        "maximum runtime of a lake run (bronze -> search) and of an automation run of marts or search",
        ge=0,
    )
    reaper_interval_s: int = setting(
        "STEAM_RUN_REAPER_INTERVAL_S", 60, "how often `dead_run_reaper` looks for run workers that died", gt=0
    )


class ReaskSettings(SettingsGroup):
    """How failed work is asked for again: which back-off, how many tries, within which Steam budget.

    `reask_failed_work_sensor` requests a failed partition again after `base * factor^(n-1)` seconds
    (at most `max delay`) from the end of the n-th failure, and gives up after `max tries` re-asks.
    The defaults (10 min, x2, capped at 2 h, 5 tries) re-ask at +10, +20, +40, +80 and +120 minutes:
    four and a half hours of tries, so a 30-minute S3, Elasticsearch or Steam outage is outlived
    with tries to spare, and a fault that lasts longer reaches a person the same day."""

    heading: ClassVar[str] = "Re-asking failed work"

    interval_s: int = setting(
        "STEAM_REASK_INTERVAL_S", 60, "how often `reask_failed_work_sensor` looks for failed partitions", gt=0
    )
    base_delay_s: int = setting(
        "STEAM_REASK_BASE_DELAY_S", 600, "wait after a partition's first failure before asking again", gt=0
    )
    backoff_factor: float = setting(
        "STEAM_REASK_BACKOFF_FACTOR", 2.0, "each further failure multiplies the wait by this", ge=1
    )
    max_delay_s: int = setting(
        "STEAM_REASK_MAX_DELAY_S", 7200, "the longest wait between two tries of one partition", gt=0
    )
    max_tries: int = setting(
        "STEAM_REASK_MAX_TRIES",
        5,
        "re-asks of one failure before it is given up (recorded, `SteamWorkGivenUp` alerts)",
        ge=1,
    )
    lookback_hours: int = setting(
        "STEAM_REASK_LOOKBACK_HOURS",
        168,
        "failures that ended longer ago are neither re-asked nor counted as given up",
        gt=0,
    )
    snapshot_window_hours: int = setting(
        "STEAM_REASK_SNAPSHOT_WINDOW_HOURS",
        24,
        "how long after its period ends a snapshot partition (`player_activity` hour, `app_catalog` / "
        "`app_details` day) is still re-asked; news has history and is re-asked whatever its day",
        gt=0,
    )
    max_requests_per_tick: int = setting(
        "STEAM_REASK_MAX_REQUESTS_PER_TICK", 4, "runs one sensor tick requests at most (oldest first)", gt=0
    )
    budget_reserve_pct: int = setting(
        "STEAM_REASK_BUDGET_RESERVE_PCT",
        10,
        "share of the daily Steam budget a re-ask must leave unused, on top of what today's remaining "
        "scheduled polls need",
        ge=0,
        le=100,
    )


class KafkaSettings(SettingsGroup):
    """The event bus: where the brokers are, how durable and how wide topics are, how to log in."""

    heading: ClassVar[str] = "Kafka"

    bootstrap_servers: str = setting(
        "KAFKA_BOOTSTRAP_SERVERS",
        "127.0.0.1:19093",
        "brokers, `host:port,...` (default: the local stack's)",
        production=Production.REQUIRED,
    )
    brokers: int = setting(
        "KAFKA_BROKERS",
        1,
        "brokers of the local stack's cluster: 3 gives replication factor 3 and min ISR 2, else 1 and 1",
        production=Production.UNUSED,
        ge=1,
    )
    replication_factor: int | None = setting(
        "KAFKA_REPLICATION_FACTOR",
        None,
        "replicas per topic (locally from `KAFKA_BROKERS`)",
        production=Production.REQUIRED,
        ge=1,
    )
    min_insync_replicas: int | None = setting(
        "KAFKA_MIN_INSYNC_REPLICAS",
        None,
        "in-sync replicas a write needs (locally from `KAFKA_BROKERS`)",
        production=Production.REQUIRED,
        ge=1,
    )
    topic_partitions: int = setting(
        "KAFKA_TOPIC_PARTITIONS", 6, "partitions per topic (the parallelism of Spark's Kafka source)", ge=1
    )
    security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "`PLAINTEXT`, or `SASL_SSL` for an authenticated cluster"
    )
    sasl_mechanism: str | None = setting(
        "KAFKA_SASL_MECHANISM",
        None,
        "`PLAIN` or `SCRAM-SHA-256/512`; unset without SASL",
        production=Production.ENV_VAR,
    )
    sasl_username: str | None = setting(
        "KAFKA_SASL_USERNAME", None, "SASL user", production=Production.ENV_VAR
    )
    sasl_password: SecretStr | None = setting(
        "KAFKA_SASL_PASSWORD", None, "SASL password", production=Production.ENV_VAR
    )
    ssl_ca_location: str | None = setting(
        "KAFKA_SSL_CA_LOCATION",
        None,
        "PEM file of the CA that signed the brokers' certificates; unset: the system's CAs",
    )


class LakeSettings(SettingsGroup):
    """The lake's S3 store: endpoint, bucket, region and keys (`s3a://$LAKE_BUCKET/lake`)."""

    heading: ClassVar[str] = "Lake (S3)"

    endpoint_url: str | None = setting(
        S3_ENDPOINT_URL_ENV,
        None,
        "an S3-compatible store (MinIO, s3proxy, ...); unset: AWS S3",
        local="http://127.0.0.1:19000",
    )
    path_style: bool | None = setting(
        "S3_PATH_STYLE", None, "path-style bucket addressing; unset: true when `S3_ENDPOINT_URL` is set"
    )
    region: str = setting(
        AWS_REGION_ENV, DEFAULT_AWS_REGION, "the bucket's region", production=Production.REQUIRED
    )
    access_key_id: str | None = setting(
        "AWS_ACCESS_KEY_ID",
        None,
        "S3 access key; unset: the AWS credential chain (profile, instance role)",
        production=Production.ENV_VAR,
        credential=True,
    )
    secret_access_key: SecretStr | None = setting(
        "AWS_SECRET_ACCESS_KEY", None, "S3 secret key", production=Production.ENV_VAR
    )
    bucket: str = setting("LAKE_BUCKET", "steam-lake", "the lake's bucket", production=Production.REQUIRED)

    @property
    def path_style_access(self) -> bool:
        """`S3_PATH_STYLE`, else path style exactly when an S3-compatible endpoint is set."""
        return self.path_style if self.path_style is not None else self.endpoint_url is not None


class SparkSettings(SettingsGroup):
    """Where Spark runs the lake's jobs and with which connector jars."""

    heading: ClassVar[str] = "Spark"

    jars: str | None = setting(
        SPARK_JARS_ENV,
        None,
        "connector jars (Kafka source, S3A): colon-separated paths or a folder; Spark assets fail "
        "clearly without them (`stack up` sets them locally)",
    )
    master: str = setting(
        "SPARK_MASTER",
        DEFAULT_SPARK_MASTER,
        "`local[2]`, or e.g. `spark://host:7077` for a standalone cluster",
    )
    driver_memory: str = setting("SPARK_DRIVER_MEMORY", DEFAULT_DRIVER_MEMORY, "the driver's heap")
    # Not `SPARK_REMOTE`: PySpark itself turns every session of a process with that variable into a
    # Connect session, with no fallback and bronze's classic-only landing included.
    remote: str | None = setting(
        "STEAM_SPARK_REMOTE",
        None,
        "a Spark Connect server (`sc://host:port`) that Spark assets attach to instead of starting a "
        "driver (`stack up` sets it unless `--no-spark-connect`); unreachable: an in-process driver, "
        "with a warning",
    )
    driver_host: str | None = setting(
        "SPARK_DRIVER_HOST",
        None,
        "the address executors on other hosts reach the driver at; unset: 127.0.0.1",
    )
    driver_bind_address: str | None = setting(
        "SPARK_DRIVER_BIND_ADDRESS",
        None,
        "the address the driver binds (e.g. `0.0.0.0` in a container); unset: `SPARK_DRIVER_HOST`",
    )
    bronze_kafka_options: SecretStr | None = setting(
        BRONZE_KAFKA_OPTIONS_ENV,
        None,
        "Kafka source options (JSON) of a `spark-submit` bronze job, SASL login included",
        production=Production.HANDOFF,
    )
    bronze_lease_ttl_s: int = setting(
        BRONZE_LEASE_TTL_S_ENV,
        DEFAULT_LEASE_TTL_S,
        "seconds a bronze checkpoint's writer lease lives unrenewed; a dead writer's is taken over "
        "after twice this",
        gt=0,
    )
    bronze_lease_heartbeat_s: int = setting(
        BRONZE_LEASE_HEARTBEAT_S_ENV,
        DEFAULT_LEASE_HEARTBEAT_S,
        "seconds between the lease holder's renewals (at most a third of `BRONZE_LEASE_TTL_S`)",
        gt=0,
    )


class SearchSettings(SettingsGroup):
    """The search cluster and Kibana: where they are and how to log in."""

    heading: ClassVar[str] = "Search (Elasticsearch, Kibana)"

    elasticsearch_url: str = setting(
        "ELASTICSEARCH_URL",
        "http://127.0.0.1:19200",
        "the cluster, without credentials (default: the local stack's node)",
        production=Production.REQUIRED,
    )
    elasticsearch_username: str | None = setting(
        "ELASTICSEARCH_USERNAME",
        None,
        "basic-auth user (with `ELASTICSEARCH_PASSWORD`), or use `ELASTICSEARCH_API_KEY`",
        production=Production.ENV_VAR,
    )
    elasticsearch_password: SecretStr | None = setting(
        "ELASTICSEARCH_PASSWORD", None, "basic-auth password", production=Production.ENV_VAR
    )
    elasticsearch_api_key: SecretStr | None = setting(
        "ELASTICSEARCH_API_KEY",
        None,
        "the base64 `id:api_key` Elasticsearch issued",
        production=Production.ENV_VAR,
    )
    elasticsearch_ca_certs: Path | None = setting(
        "ELASTICSEARCH_CA_CERTS",
        None,
        "CA bundle (PEM) that signed the cluster's certificate, for an https URL with a private CA "
        "(Elasticsearch 8/9 generate one); unset: the system's trust store",
    )
    index_replicas: int = setting(
        "ELASTICSEARCH_INDEX_REPLICAS", 1, "replicas per search index", local=0, ge=0
    )
    index_shards: int = setting(
        "ELASTICSEARCH_INDEX_SHARDS",
        1,
        "primary shards per new search index (a change applies at the next full refresh); raise it "
        "when the `shard_size` check warns",
        ge=1,
    )
    kibana_url: str | None = setting(
        "KIBANA_URL",
        None,
        "Kibana, where the dashboards are imported; unset: nothing is imported",
        production=Production.ENV_VAR,
    )
    kibana_username: str | None = setting(
        "KIBANA_USERNAME", None, "Kibana user", production=Production.ENV_VAR
    )
    kibana_password: SecretStr | None = setting(
        "KIBANA_PASSWORD", None, "Kibana password", production=Production.ENV_VAR
    )
    kibana_version: str | None = setting(
        "KIBANA_VERSION",
        None,
        "Kibana's version when `GET /api/status` hides it (9.5+ without `cluster:monitor`); picks the "
        "saved-object set it can import",
    )
    restore_check_interval_s: int = setting(
        "STEAM_SEARCH_RESTORE_INTERVAL_S",
        60,
        "how often `search_restore_sensor` checks that every search alias and the Kibana saved objects "
        "still exist (a wiped cluster is rebuilt from the lake)",
        gt=0,
    )


class SteamSettings(SettingsGroup):
    """Steam's hosts, the Web API key, and where the shared call budget is kept."""

    heading: ClassVar[str] = "Steam"

    api_key: SecretStr | None = setting(
        "STEAM_API_KEY",
        None,
        "Web API key; without it the keyed assets (`app_catalog`, `player_activity`) succeed empty",
        production=Production.ENV_VAR,
    )
    api_base_url: str = setting("STEAM_API_BASE_URL", STEAM_API_BASE_URL, "the Web API's host")
    store_base_url: str = setting("STEAM_STORE_BASE_URL", STEAM_STORE_BASE_URL, "the store's host")
    retry_max_attempts: int = setting(
        "STEAM_RETRY_MAX_ATTEMPTS",
        STEAM_RETRY_MAX_ATTEMPTS,
        "calls of one item on 429/5xx/connection errors before it is skipped (five skipped in a row "
        "fail the poll: Steam looks down)",
        ge=1,
    )
    retry_backoff_max_s: float = setting(
        "STEAM_RETRY_BACKOFF_MAX_S",
        STEAM_RETRY_BACKOFF_MAX_S,
        "longest wait between two calls of an item without `Retry-After` (exponential backoff with "
        "jitter; a `Retry-After` is honoured up to 300 s)",
        gt=0,
    )
    budget_state_dir: Path | None = setting(
        "STEAM_BUDGET_STATE_DIR",
        None,
        "where the budget and store-pace SQLite files live; unset: `$DAGSTER_HOME/steam` (a shared "
        "volume when runs share no disk)",
    )


class MonitoringSettings(SettingsGroup):
    """Where the platform's metrics are served and where Alertmanager sends alerts
    (`steam_platform/monitoring/`, `deploy/monitoring/`)."""

    heading: ClassVar[str] = "Monitoring"

    alert_webhook_url: SecretStr | None = setting(
        "STEAM_ALERT_WEBHOOK_URL",
        None,
        "Slack-compatible incoming webhook Alertmanager posts alerts to (holds a token); unset: "
        "`stack up --monitoring` runs Alertmanager without a receiver",
        production=Production.UNUSED,
    )
    metrics_port: int = setting(
        "STEAM_METRICS_PORT", 9464, "port of the platform's metrics exporter (`steam-platform-metrics`)", gt=0
    )
    run_lookback_hours: int = setting(
        "STEAM_METRICS_RUN_LOOKBACK_HOURS",
        168,
        "how far back the exporter looks for each job's latest finished run (a job silent for longer "
        "drops out of the failed-run metric)",
        gt=0,
    )
    workspace: Path | None = setting(
        "STEAM_METRICS_WORKSPACE",
        None,
        "Dagster workspace file whose `grpc_server` code servers the exporter checks (up, restarted); "
        "unset: none are checked",
    )


class StackToolSettings(SettingsGroup):
    """The local stack's tools (`steam-platform stack ...`, `make run`); never the code location."""

    heading: ClassVar[str] = "Local stack tools"
    stack_env_fallback: ClassVar[bool] = False

    cache_dir: Path | None = setting(
        "STEAM_PLATFORM_CACHE",
        None,
        "resolved jars and built servers, kept across `stack down`",
        production=Production.UNUSED,
        shown_default="`.cache/` in the checkout",
    )
    pg_bindir: Path | None = setting(
        "STEAM_PG_BINDIR",
        None,
        "folder of the PostgreSQL server binaries; unset: Debian's layout, `pg_config`, the PATH",
        production=Production.UNUSED,
    )
    es_java_home: Path | None = setting(
        "ES_JAVA_HOME",
        None,
        "the JDK (>= 11) that runs Elasticsearch; unset: `java` on the PATH",
        production=Production.UNUSED,
    )


class Settings(BaseModel):
    """Every variable the platform and its tools read, grouped by concern."""

    model_config = ConfigDict(frozen=True)

    platform: PlatformSettings
    schedule: ScheduleSettings
    dagster: DagsterSettings
    runs: RunSupervisionSettings
    reask: ReaskSettings
    kafka: KafkaSettings
    lake: LakeSettings
    spark: SparkSettings
    search: SearchSettings
    steam: SteamSettings
    monitoring: MonitoringSettings
    stack_tools: StackToolSettings

    @classmethod
    def groups(cls) -> list[type[SettingsGroup]]:
        """The group classes in the docs' order."""
        groups = []
        for info in cls.model_fields.values():
            assert isinstance(info.annotation, type) and issubclass(info.annotation, SettingsGroup)
            groups.append(info.annotation)
        return groups

    @classmethod
    def load(cls, env: Environment | None = None) -> Settings:
        """Every group for `env` (default: `STEAM_PLATFORM_ENV`)."""
        env = env or current_environment()
        return cls(
            platform=PlatformSettings.load(env),
            schedule=ScheduleSettings.load(env),
            dagster=DagsterSettings.load(env),
            runs=RunSupervisionSettings.load(env),
            reask=ReaskSettings.load(env),
            kafka=KafkaSettings.load(env),
            lake=LakeSettings.load(env),
            spark=SparkSettings.load(env),
            search=SearchSettings.load(env),
            steam=SteamSettings.load(env),
            monitoring=MonitoringSettings.load(env),
            stack_tools=StackToolSettings.load(env),
        )

    @classmethod
    def variables(cls) -> dict[str, tuple[type[SettingsGroup], str]]:
        """Every variable's name -> (its group, its field)."""
        return {
            group.env_name(field): (group, field) for group in cls.groups() for field in group.model_fields
        }
