"""Every action the official CAS SDK offers is decided: served (a handler in `ACTIONS`) or named in the README's table
of CAS actions beyond deployment jobs, which says what it answers and why."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from alibabacloud_cas20200407 import client as sdk_client

from certdeploy.api.actions import ACTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def _sdk_actions() -> set[str]:
    return set(re.findall(r"action = '(\w+)'", inspect.getsource(sdk_client)))


def _readme_decisions() -> set[str]:
    section = README.read_text(encoding="utf-8").split("### CAS actions beyond deployment jobs", 1)[1]
    table = section.split("\n## ", 1)[0]
    return {name for line in table.splitlines() if line.startswith("| `") for name in re.findall(r"`(\w+)`", line)}


def test_every_sdk_action_is_served_or_decided_in_the_readme() -> None:
    actions = _sdk_actions()

    assert len(actions) > 80, "the SDK's actions were not found: the client's source changed shape"
    assert sorted(actions - ACTIONS.keys() - _readme_decisions()) == []


def test_the_readme_decides_only_actions_the_sdk_has_or_we_serve() -> None:
    named = {name for name in _readme_decisions() if name[0].isupper() and name not in {"NotFound", "QuotaExceeded"}}
    fields = {"GmtCreate", "GmtModified", "NamespaceId", "Tags", "BindingChanges"}

    assert sorted(named - _sdk_actions() - ACTIONS.keys() - fields) == []
