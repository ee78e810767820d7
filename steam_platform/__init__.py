"""steam_platform: a Dagster data platform for Steam game data."""
