"""The Steam call budget used today, and what Elasticsearch serves (documents per alias)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_transport import connect
from steam_platform.resources.steam.budget import CallBudget, budget_scope
from steam_platform.resources.steam_api import SteamApiResource, default_budget_state_dir

REQUEST_TIMEOUT_S = 4.0


def budget_metrics(steam: SteamApiResource) -> Iterator[GaugeMetricFamily]:
    """`steam_api_budget_used_calls` and `steam_api_budget_daily_limit_calls` for today (UTC)."""
    state = Path(steam.budget_state_dir) if steam.budget_state_dir else default_budget_state_dir()
    budget = CallBudget(
        state / "budget.sqlite", budget_scope(steam.api_base_url, steam.api_key), steam.daily_call_budget
    )
    used = GaugeMetricFamily("steam_api_budget_used_calls", "Steam Web API calls counted today (UTC)")
    used.add_metric([], budget.used_today())
    limit = GaugeMetricFamily("steam_api_budget_daily_limit_calls", "The daily Steam Web API call budget")
    limit.add_metric([], steam.daily_call_budget)
    yield used
    yield limit


def search_metrics(elasticsearch: ElasticsearchResource) -> Iterator[GaugeMetricFamily]:
    """`steam_search_documents{alias}`: documents behind each alias (system aliases left out)."""
    # One try, a short timeout: a scrape must end within Prometheus' scrape timeout when ES is down.
    client = connect(
        dataclasses.replace(elasticsearch.connection(), request_timeout=REQUEST_TIMEOUT_S, max_retries=0)
    )
    docs = GaugeMetricFamily(
        "steam_search_documents", "Documents Elasticsearch serves behind the alias", labels=["alias"]
    )
    try:
        answer = client.perform("GET", "/_alias")
        aliases = {a for index in answer.values() for a in index.get("aliases", {}) if not a.startswith(".")}
        for alias in sorted(aliases):
            docs.add_metric([alias], client.count(alias))
    finally:
        client.close()
    yield docs
