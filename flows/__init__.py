"""Orchestration: sources -> parsers -> dedup -> storage, as Prefect flows and the `newsdedup` CLI."""
