"""Each FC function's cold start imports only what that function uses (docs/runtime.md#cold-starts).

A fresh interpreter runs each function as FC does (`packaging/invoke.py`: import `handler`, `initialize`, serve the
function's `events/` sample once) and reports every module it loaded. This interpreter has every dependency
installed, so a module a function must not load would be imported here if its code reached for it: the API without
templates, cloud SDKs, migrations or the actions its request does not ask for; the queue consumers without the API;
only the notifier with the senders. What a function loads is what its every cold start pays, in time and memory; so is
every pydantic model it builds, which is why certdeploy's models defer their build to first use and a cold start
builds only those its event goes through.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from certdeploy.adapters.sql.crypto import generate_key_encryption_key
from certdeploy.adapters.sql.migrate import upgrade
from tests.function_samples import SAMPLES, invoke_sample

REPO = Path(__file__).resolve().parent.parent.parent
# X.509 parsing and the key-encryption cipher load when a certificate is read or a sealed secret opened, which none of
# the samples does: the cryptography library's ~16 MiB are not every cold start's.
X509 = {"cryptography", "asn1crypto", "certdeploy.domain.certificates"}
# Loaded by the first name that is not ASCII (IDNA) and the first reply asked for in XML, which no sample has.
ON_FIRST_NEED = {"idna", "xml.etree.ElementTree"}
# No function loads these: schema migrations run once per deploy (`certdeploy migrate`), YAML is the local inventory's,
# the rest is the CLI's and `certdeploy serve`'s; the store is SQLAlchemy Core on the SQLite dialect here (no ORM, no
# other database's dialect, not even for MySQL's column types), and the settings are read without pydantic-settings.
NEVER = {
    "alembic",
    "certdeploy.adapters.sql.migrate",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.mysql",
    "pydantic_settings",
    "dotenv",
    "yaml",
    "rich",
    "uvicorn",
    "h11",
    "certdeploy.cli",
    "certdeploy.local",
    *X509,
    *ON_FIRST_NEED,
}
CLOUD_SDK_PREFIXES = ("alibabacloud_", "Tea", "darabonba", "oss2", "fc2", "aliyunsdkcore")
API = {"certdeploy.api", "certdeploy.api.replies", "certdeploy.api.service"}
TEMPLATES = {"jinja2", "markupsafe", "certdeploy.adapters.notify.render"}
SENDERS = {"smtplib", "certdeploy.adapters.notify.smtp", "certdeploy.app.notify"}
# The API imports an action's module when the action is first asked for: its sample (DescribeDeploymentJob) loads the
# jobs' (and the certificates' it uses), none of the others, nor the use cases only they call; the webhook notifier's
# rule (with http.client) loads when a contact's webhook URL is first checked.
OTHER_ACTIONS = {
    *(f"certdeploy.api.actions_{name}" for name in ("contacts", "packages", "resources", "timeline", "windows")),
    "certdeploy.api.actions_workers",
    "certdeploy.app.execute",
    "certdeploy.app.rollback",
    "certdeploy.adapters.notify.webhook",
    "http.client",
}
MUST_NOT_LOAD = {
    "api": NEVER | TEMPLATES | SENDERS | OTHER_ACTIONS,
    "scheduler": NEVER | API | TEMPLATES | SENDERS,
    "execute": NEVER | API | TEMPLATES | SENDERS,
    "notify": NEVER | API | {"certdeploy.app.execute", "certdeploy.app.rollback"},
    "rollback": NEVER | API | TEMPLATES | SENDERS,
    "certificate_issued": NEVER | API | TEMPLATES | SENDERS,
}

# The only models each sample builds: the settings, the event's envelope and what the sample validates (the API's
# request; the certificate-issued CloudEvent).
SETTINGS = "certdeploy.bootstrap.settings.Settings"
MNS_MESSAGE = "certdeploy.fc.events.MnsQueueMessage"
BUILDS = {
    "api": {SETTINGS, "certdeploy.api.rpc.RpcRequest"},
    "scheduler": {SETTINGS},
    "execute": {SETTINGS, MNS_MESSAGE},
    "notify": {SETTINGS, MNS_MESSAGE},
    "rollback": {SETTINGS, MNS_MESSAGE},
    "certificate_issued": {SETTINGS, "certdeploy.app.messages.CertificateIssued"},
}


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A SQLite database migrated beforehand, as a deployment's `certdeploy migrate` does; local queues and cloud."""
    workdir = tmp_path_factory.mktemp("cold-start")
    key = generate_key_encryption_key()
    url = f"sqlite:///{workdir / 'certdeploy.sqlite'}"
    upgrade(url, key_encryption_key=key)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "CERTDEPLOY_DATA": str(workdir / "data"),
        "CERTDEPLOY_DATABASE_URL": url,
        "CERTDEPLOY_KEY_ENCRYPTION_KEY": key,
    }


def cold_start(function: str, environment: dict[str, str]) -> tuple[set[str], set[str]]:
    """The modules a cold start of `function` loaded and the pydantic models it built."""
    report, _ = invoke_sample([sys.executable], REPO / "functions" / function, function, environment, "--list-modules")
    return set(report["modules"]), set(report["built_models"])


@pytest.mark.parametrize("function", SAMPLES)
def test_a_cold_start_loads_only_the_modules_and_builds_only_the_models_its_function_uses(
    function: str, environment: dict[str, str]
) -> None:
    loaded, built = cold_start(function, environment)

    assert "certdeploy.adapters.sql.store" in loaded  # it did serve its sample from the store
    assert sorted(loaded & MUST_NOT_LOAD[function]) == []
    assert sorted(module for module in loaded if module.startswith(CLOUD_SDK_PREFIXES)) == []
    assert sorted(model for model in built if model.startswith("certdeploy.")) == sorted(BUILDS[function])
