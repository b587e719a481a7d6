"""Shared pytest configuration: say in the CI log which database servers and FC Pythons the suites run against."""

from __future__ import annotations

import os

import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    servers = {
        "postgresql": os.environ.get("CERTDEPLOY_TEST_POSTGRES_URL"),
        "mysql": os.environ.get("CERTDEPLOY_TEST_MYSQL_URL"),
    }
    configured = ["sqlite"] + [name for name, url in servers.items() if url]
    missing = [name for name, url in servers.items() if not url]
    lines = [f"certdeploy store backends under test: {', '.join(configured)}"]
    if missing:
        lines.append(f"certdeploy store backends SKIPPED (no server configured): {', '.join(missing)}")
    fc_pythons = os.environ.get("CERTDEPLOY_TEST_FC_PYTHONS")
    lines.append(
        f"certdeploy packaged functions run under: {fc_pythons}"
        if fc_pythons
        else "certdeploy packaged functions run under this interpreter only (CERTDEPLOY_TEST_FC_PYTHONS unset)"
    )
    return lines
