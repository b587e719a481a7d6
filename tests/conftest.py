"""Shared pytest configuration: the Hypothesis profiles, and a CI log header saying which database servers and FC
Pythons the suites run against.

Hypothesis profiles, chosen by HYPOTHESIS_PROFILE: `ci` (the default, what `make test` runs) keeps every property
test's own example count; `fast` (what `make check` runs) caps each at FAST_EXAMPLES, for a quick lane.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

FAST_EXAMPLES = 10

settings.register_profile("ci")
settings.register_profile("fast", max_examples=FAST_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(full: int) -> int:
    """How many examples a property test that asks for `full` runs under the loaded profile: an explicit
    `@settings(max_examples=...)` would otherwise override the profile."""
    return min(full, FAST_EXAMPLES) if settings.get_current_profile_name() == "fast" else full


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
