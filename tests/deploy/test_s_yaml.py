"""s.yaml (Serverless Devs 3, fc3 component) and the README's configuration docs, checked against the code.

What fc3 accepts is encoded from docs/runtime.md#deployment-wiring (fc3's `src/interface`, `src/schema.json` and the
official `__tests__/complete-props.yaml`); what the functions need comes from the code itself: the handlers, the
settings model, the queue roles the outbox writes and the local runner's function specs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from certdeploy.adapters.sql.crypto import generate_key_encryption_key
from certdeploy.app.messages import QUEUE_OF, QueueRole
from certdeploy.bootstrap import container as container_module
from certdeploy.bootstrap.settings import CloudBackend, QueueBackend, Settings
from certdeploy.fc.function import trigger_decodes_base64
from certdeploy.local.http_front import load_function
from certdeploy.local.runner import ALL_FUNCTIONS, QUEUE_CONSUMERS

REPO = Path(__file__).resolve().parent.parent.parent
PACKAGE = REPO / "shared" / "certdeploy"
README = REPO / "README.md"
ENV_PREFIX = "CERTDEPLOY_"

# ------------------------------------------------------------------ what the fc3 component accepts
# (docs/runtime.md#deployment-wiring). A mapping lists the keys allowed at that level; None accepts any value.
ANY = None
TRIGGER_CONFIG: Mapping[str, Any] = {
    "http": {"authType": ANY, "disableURLInternet": ANY, "methods": ANY},
    "timer": {"cronExpression": ANY, "enable": ANY, "payload": ANY},
    "eventbridge": {
        "triggerEnable": ANY,
        "asyncInvocationType": ANY,
        "eventRuleFilterPattern": ANY,
        "eventSourceConfig": {
            "eventSourceType": ANY,
            "eventSourceParameters": {"sourceMNSParameters": {"QueueName": ANY, "IsBase64Decode": ANY}},
        },
        "eventSinkConfig": {"deliveryOption": {"mode": ANY, "eventSchema": ANY}},
        "runOptions": {
            "mode": ANY,
            "maximumTasks": ANY,
            "errorsTolerance": ANY,
            "retryStrategy": {"PushRetryStrategy": ANY, "MaximumEventAgeInSeconds": ANY, "MaximumRetryAttempts": ANY},
            "deadLetterQueue": {"Arn": ANY},
            "batchWindow": {"CountBasedWindow": ANY, "TimeBasedWindow": ANY},
        },
    },
}
TRIGGER_TYPES = {"oss", "log", "timer", "eventbridge", "http", "mns_topic", "cdn_events", "tablestore"}
TRIGGER_KEYS = {"triggerName": ANY, "triggerType": ANY, "description": ANY, "qualifier": ANY, "sourceArn": ANY,
                "invocationRole": ANY, "triggerConfig": ANY}  # fmt: skip
FUNCTION_PROPS: Mapping[str, Any] = {
    "region": ANY,
    "functionName": ANY,
    "runtime": ANY,
    "code": ANY,
    "handler": ANY,
    "memorySize": ANY,
    "timeout": ANY,
    "description": ANY,
    "role": ANY,
    "environmentVariables": ANY,
    "vpcConfig": {"vpcId": ANY, "securityGroupId": ANY, "vSwitchIds": ANY},
    "logConfig": ANY,
    "instanceLifecycleConfig": {
        "initializer": {"handler": ANY, "timeout": ANY},
        "preStop": {"handler": ANY, "timeout": ANY},
    },
    "asyncInvokeConfig": {"destinationConfig": ANY, "maxAsyncEventAgeInSeconds": ANY, "maxAsyncRetryAttempts": ANY},
    "layers": ANY,
    "customDomain": ANY,
    "triggers": ANY,
}
RUNTIMES = {"python3.10", "python3.12"}
HTTP_METHODS = {"GET", "POST", "PUT", "DELETE", "HEAD"}
PUSH_RETRY_STRATEGIES = {"BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY"}
EVENT_SOURCE_TIMEOUT_LIMIT = 300  # event-source triggers: 5 minutes at most (docs/runtime.md#deployment-wiring)
LOG_CONFIG_KEYS = {"project", "logstore", "enableRequestMetrics", "enableInstanceMetrics", "logBeginRule"}

# ------------------------------------------------------------------ deploy-time inputs and interpolation
# Values for the `${env('…')}` inputs, as an operator's shell would hold them.
DEPLOY_ENVIRONMENT = {
    "CERTDEPLOY_DATABASE_URL": "postgresql+psycopg://certdeploy:pw@pgm-example.pg.rds.aliyuncs.com:5432/certdeploy",
    "CERTDEPLOY_KEY_ENCRYPTION_KEY": generate_key_encryption_key(),
    "CERTDEPLOY_SMTP_URL": "smtps://noreply%40mail.example.com:pw@smtpdm.aliyun.com:465",
    "CERTDEPLOY_MAIL_FROM": "noreply@mail.example.com",
    "CERTDEPLOY_VPC_ID": "vpc-bp1example",
    "CERTDEPLOY_SECURITY_GROUP_ID": "sg-bp1example",
    "CERTDEPLOY_VSWITCH_ID": "vsw-bp1example",
}
ACCOUNT_ID = "1234567890123456"
_EXPRESSION = re.compile(r"\$\{([^}]*)\}")
_ENV_CALL = re.compile(r"env\('([A-Za-z0-9_]+)'(?:,\s*'([^']*)')?\)")


def _lookup(variables: Mapping[str, Any], dotted: str) -> Any:
    value: Any = variables
    for part in dotted.split("."):
        assert isinstance(value, Mapping) and part in value, f"${{vars.{dotted}}} names no variable"
        value = value[part]
    return value


def _evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """The Serverless Devs expressions s.yaml may use: vars.*, env('NAME'[, 'default']) and config('AccountID')."""
    if expression.startswith("vars."):
        return _lookup(variables, expression.removeprefix("vars."))
    env_call = _ENV_CALL.fullmatch(expression)
    if env_call:
        name, default = env_call.groups()
        assert name in DEPLOY_ENVIRONMENT or default is not None, f"${{env('{name}')}} has no value and no default"
        return DEPLOY_ENVIRONMENT.get(name, default)
    assert expression == "config('AccountID')", f"unsupported expression ${{{expression}}}"
    return ACCOUNT_ID


def _resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """Substitute like Serverless Devs: a value that is exactly one expression takes the expression's value as is."""
    if isinstance(value, dict):
        return {key: _resolve(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, variables) for item in value]
    if not isinstance(value, str):
        return value
    whole = _EXPRESSION.fullmatch(value)
    if whole:
        return _resolve(_evaluate(whole.group(1), variables), variables)
    return _EXPRESSION.sub(lambda match: str(_evaluate(match.group(1), variables)), value)


def _raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "s.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    raw = _raw()
    return {**raw, "resources": _resolve(raw["resources"], raw["vars"])}


@pytest.fixture(scope="module")
def functions(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Resource key → resolved props."""
    return {key: resource["props"] for key, resource in project["resources"].items()}


def _settings(props: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a function built from this environment would validate."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in props["environmentVariables"].items():
        monkeypatch.setenv(name, value)
    return Settings()


def _mns_triggers(props: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for trigger in props.get("triggers", []):
        source = trigger["triggerConfig"].get("eventSourceConfig", {})
        if trigger["triggerType"] == "eventbridge" and source.get("eventSourceType") == "MNS":
            yield trigger


def _queue_of(trigger: Mapping[str, Any]) -> str:
    parameters = trigger["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]
    name: str = parameters["QueueName"]
    return name


def _unknown_keys(value: Any, schema: Any, path: str) -> list[str]:
    if schema is ANY or not isinstance(value, Mapping):
        return []
    problems = [f"{path}.{key}" for key in value if key not in schema]
    for key, item in value.items():
        if key in schema:
            problems += _unknown_keys(item, schema[key], f"{path}.{key}")
    return problems


def _settings_variables() -> set[str]:
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def _runtime_variables() -> set[str]:
    """CERTDEPLOY_* variables the functions' code reads directly (outside the settings model and the CLI)."""
    read = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*["'](CERTDEPLOY_[A-Z0-9_]+)["']""")
    return {
        name
        for path in PACKAGE.rglob("*.py")
        if "cli" not in path.relative_to(PACKAGE).parts
        for name in read.findall(path.read_text())
    }


def _written_roles() -> set[QueueRole]:
    """Queue roles the code sends to: commands through the outbox, outbox rows naming a role, and direct sends."""
    named = re.compile(r"queue=str\(QueueRole\.([A-Z_]+)\)|queues\[QueueRole\.([A-Z_]+)\]\.send\(")
    found = {
        QueueRole[outbox or sent] for path in PACKAGE.rglob("*.py") for outbox, sent in named.findall(path.read_text())
    }
    return found | set(QUEUE_OF.values())


# ------------------------------------------------------------------ format and fc3 schema


def test_every_expression_is_one_serverless_devs_resolves_and_every_variable_exists() -> None:
    raw = _raw()

    resolved = _resolve(raw["resources"], raw["vars"])

    assert raw["edition"] == "3.0.0" and raw["name"] and raw["access"]
    assert "${" not in json.dumps(resolved)


def test_each_function_is_an_fc3_resource_with_only_props_fc3_accepts(functions: dict[str, dict[str, Any]]) -> None:
    raw = _raw()

    problems = [problem for key, props in functions.items() for problem in _unknown_keys(props, FUNCTION_PROPS, key)]

    assert problems == []
    assert {resource["component"] for resource in raw["resources"].values()} == {"fc3"}
    assert all(props["region"] and props["functionName"] and props["runtime"] for props in functions.values())


def test_every_trigger_has_a_type_and_fields_fc3_accepts(functions: dict[str, dict[str, Any]]) -> None:
    problems: list[str] = []
    for key, props in functions.items():
        for trigger in props["triggers"]:
            where = f"{key}.triggers.{trigger['triggerName']}"
            assert trigger["triggerType"] in TRIGGER_TYPES, where
            problems += _unknown_keys(trigger, TRIGGER_KEYS, where)
            problems += _unknown_keys(trigger["triggerConfig"], TRIGGER_CONFIG[trigger["triggerType"]], where)

    assert problems == []


def test_sizes_timeouts_and_logs_are_within_fc3_limits(functions: dict[str, dict[str, Any]]) -> None:
    for key, props in functions.items():
        assert 128 <= props["memorySize"] <= 32768 and props["memorySize"] % 64 == 0, key
        assert 1 <= props["timeout"] <= 86400, key
        if any(True for _ in _mns_triggers(props)):
            assert props["timeout"] <= EVENT_SOURCE_TIMEOUT_LIMIT, key
        log_config = props["logConfig"]
        assert log_config == "auto" or set(log_config) <= LOG_CONFIG_KEYS, key
        async_config = props.get("asyncInvokeConfig", {})
        assert 0 <= async_config.get("maxAsyncRetryAttempts", 0) <= 8, key
        assert 1 <= async_config.get("maxAsyncEventAgeInSeconds", 1) <= 604_800, key


# ------------------------------------------------------------------ functions against the code


def test_the_six_functions_run_on_a_runtime_chosen_by_one_variable_from_the_built_code(
    functions: dict[str, dict[str, Any]],
) -> None:
    raw = _raw()
    runtime = raw["vars"]["runtime"]

    assert set(functions) == {spec.name for spec in ALL_FUNCTIONS}
    assert runtime in RUNTIMES
    for key, props in functions.items():
        assert raw["resources"][key]["props"]["runtime"] == "${vars.runtime}"
        assert props["code"] == f"./build/fc/{runtime}/{key}"  # packaging/build.py's output for `key`


def test_handler_and_initializer_of_every_function_resolve_to_callables(functions: dict[str, dict[str, Any]]) -> None:
    for key, props in functions.items():
        code_dir = REPO / "functions" / key
        initializer = props["instanceLifecycleConfig"]["initializer"]

        assert callable(load_function(code_dir, props["handler"])), key
        assert callable(load_function(code_dir, initializer["handler"])), key
        assert 1 <= initializer["timeout"] <= props["timeout"], key


def test_handlers_and_timeouts_are_the_ones_the_local_runner_simulates(functions: dict[str, dict[str, Any]]) -> None:
    for spec in ALL_FUNCTIONS:
        props = functions[spec.name]

        assert (props["handler"], props["timeout"]) == (spec.handler, spec.timeout_seconds), spec.name


def test_every_function_runs_as_the_role_inside_the_vpc(functions: dict[str, dict[str, Any]]) -> None:
    for key, props in functions.items():
        assert re.fullmatch(rf"acs:ram::{ACCOUNT_ID}:role/[A-Za-z0-9.-]+", props["role"]), key
        vpc = props["vpcConfig"]
        assert vpc["vpcId"] and vpc["securityGroupId"] and vpc["vSwitchIds"], key


def test_only_the_deploying_functions_run_as_the_role_that_may_read_private_keys(
    functions: dict[str, dict[str, Any]],
) -> None:
    deploying = {"execute", "rollback"}  # docs/permissions.md: GetUserCertificateDetail only for these

    deploy_roles = {functions[key]["role"] for key in deploying}
    other_roles = {props["role"] for key, props in functions.items() if key not in deploying}

    assert len(deploy_roles) == 1 and deploy_roles.isdisjoint(other_roles)


# ------------------------------------------------------------------ environment against the settings model


def test_every_certdeploy_variable_set_is_a_setting_or_read_by_the_runtime(
    functions: dict[str, dict[str, Any]],
) -> None:
    known = _settings_variables() | _runtime_variables()

    for key, props in functions.items():
        variables = props["environmentVariables"]
        assert all(isinstance(value, str) for value in variables.values()), key
        assert {name for name in variables if name.startswith(ENV_PREFIX)} <= known, key


def test_every_function_gets_the_settings_the_cloud_needs(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, props in functions.items():
        settings = _settings(props, monkeypatch)

        # Their defaults only make sense embedded: SQLite and a key file in the data directory, local queues and cloud.
        assert settings.database_url and not settings.database_url.startswith("sqlite"), key
        assert settings.key_encryption_key is not None, key
        assert settings.queue_backend is QueueBackend.MNS and settings.mns_endpoint, key
        assert settings.cloud is CloudBackend.ALIYUN, key
        assert settings.mns_endpoint == "http://1234567890123456.mns.cn-hangzhou.aliyuncs.com"
        assert settings.smtp_url is not None and settings.mail_from != Settings.model_fields["mail_from"].default


def test_secrets_come_from_the_environment_and_never_stand_in_clear_in_s_yaml() -> None:
    raw = _raw()
    secret_variables = {
        ENV_PREFIX + name.upper()
        for name, field in Settings.model_fields.items()
        if SecretStr in _types(field.annotation)
    }
    secret_variables.add(ENV_PREFIX + "DATABASE_URL")  # holds the database password

    for key, resource in raw["resources"].items():
        for name, value in resource["props"]["environmentVariables"].items():
            if name in secret_variables:
                assert _ENV_CALL.fullmatch(_EXPRESSION.fullmatch(value).group(1)), f"{key}: {name} must be ${{env()}}"


def _types(annotation: Any) -> set[Any]:
    return {annotation, *getattr(annotation, "__args__", ())}


def test_all_functions_agree_on_the_queue_names(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {key: container_module._queue_names(_settings(props, monkeypatch)) for key, props in functions.items()}

    assert len({json.dumps(sorted(queues.items())) for queues in names.values()}) == 1
    queues = next(iter(names.values()))
    assert queues == {
        QueueRole.DEPLOY: _raw()["vars"]["queues"]["deploy"],
        QueueRole.NOTIFY: _raw()["vars"]["queues"]["notify"],
        QueueRole.ROLLBACK: _raw()["vars"]["queues"]["rollback"],
        QueueRole.CERTIFICATE_ISSUED: _raw()["vars"]["queues"]["certificateIssued"],
        QueueRole.DEAD_LETTER: _raw()["vars"]["queues"]["deadLetter"],
    }


# ------------------------------------------------------------------ queues: who reads what others write


def test_every_queue_a_trigger_reads_is_written_by_the_code_and_consumed_by_the_right_function(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _written_roles()
    consumer_of = {spec.name: role for role, (spec, _) in QUEUE_CONSUMERS.items()}

    for key, props in functions.items():
        queues = container_module._queue_names(_settings(props, monkeypatch))
        role_of_queue = {name: role for role, name in queues.items()}
        for trigger in _mns_triggers(props):
            role = role_of_queue.get(_queue_of(trigger))
            assert role in written, f"{key} reads {_queue_of(trigger)}, which no code writes"
            assert role is consumer_of.get(key), f"{key} reads the {role} queue but consumes {consumer_of.get(key)}"


def test_every_queue_the_code_writes_has_a_consumer(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    props = functions["api"]
    queues = container_module._queue_names(_settings(props, monkeypatch))
    read = {_queue_of(trigger) for props in functions.values() for trigger in _mns_triggers(props)}

    # The dead-letter queue is read by the scheduler (it ends the workers of dead messages), without a trigger.
    unread = {role for role in _written_roles() - {QueueRole.DEAD_LETTER} if queues[role] not in read}

    assert unread == set()


def test_queue_triggers_retry_then_dead_letter_and_decode_as_the_functions_expect(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, props in functions.items():
        settings = _settings(props, monkeypatch)
        for trigger in _mns_triggers(props):
            config = trigger["triggerConfig"]
            run = config["runOptions"]
            source = config["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]
            where = f"{key}.{trigger['triggerName']}"

            assert config["asyncInvocationType"] is False and config["triggerEnable"] is True, where
            assert json.loads(config["eventRuleFilterPattern"]) == {
                "source": [f"MNS-{props['functionName']}-{trigger['triggerName']}"]
            }, where
            assert run["mode"] == "event-streaming" and run["errorsTolerance"] == "ALL", where
            assert run["retryStrategy"]["PushRetryStrategy"] in PUSH_RETRY_STRATEGIES, where
            assert run["deadLetterQueue"]["Arn"] == (
                f"acs:mns:{props['region']}:{ACCOUNT_ID}:/queues/{settings.queue_dead_letter}"
            ), where
            assert 1 <= run["batchWindow"]["CountBasedWindow"] <= 10_000, where
            assert 0 <= run["batchWindow"]["TimeBasedWindow"] <= 15, where
            assert source["IsBase64Decode"] is trigger_decodes_base64(), where


@pytest.mark.parametrize("function", ["execute", "rollback"])
def test_effectful_consumers_take_one_message_per_invocation(
    functions: dict[str, dict[str, Any]], function: str
) -> None:
    (trigger,) = _mns_triggers(functions[function])

    assert trigger["triggerConfig"]["runOptions"]["batchWindow"]["CountBasedWindow"] == 1


# ------------------------------------------------------------------ the other triggers


def test_the_api_is_an_http_trigger_the_cas_sdk_can_call(functions: dict[str, dict[str, Any]]) -> None:
    (trigger,) = functions["api"]["triggers"]
    config = trigger["triggerConfig"]

    assert trigger["triggerType"] == "http"
    assert config["authType"] in {"anonymous", "function"}
    assert {"GET", "POST"} <= set(config["methods"]) <= HTTP_METHODS


def test_the_scheduler_ticks_every_minute_on_a_timer(functions: dict[str, dict[str, Any]]) -> None:
    (trigger,) = functions["scheduler"]["triggers"]
    config = trigger["triggerConfig"]

    assert trigger["triggerType"] == "timer" and config["enable"] is True
    assert config["cronExpression"] == "0 * * * * *"  # FC cron has a seconds field
    assert isinstance(config["payload"], str)


def test_the_certificate_rule_matches_the_event_the_functions_are_told_to_expect(
    functions: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    props = functions["certificate_issued"]
    settings = _settings(props, monkeypatch)
    rules = [
        trigger
        for trigger in props["triggers"]
        if trigger["triggerConfig"].get("eventSourceConfig", {}).get("eventSourceType") == "Default"
    ]

    (rule,) = rules
    assert json.loads(rule["triggerConfig"]["eventRuleFilterPattern"]) == {
        "source": [settings.certificate_event_source],
        "type": [settings.certificate_event_type],
    }


# ------------------------------------------------------------------ the docs agree


def _readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _display(default: Any) -> str:
    """How the Configuration table writes a default."""
    if default is None:
        return "(unset)"
    if default == ():
        return "(empty)"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(str(item) for item in default)
    return str(getattr(default, "value", default))


def test_the_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = re.findall(r"^\| `(CERTDEPLOY_[A-Z0-9_]+)` \| ([^|]+) \|", _readme_section("Configuration"), re.MULTILINE)
    documented = {name: default.strip().strip("`") for name, default in rows}

    expected = {ENV_PREFIX + name.upper(): _display(field.default) for name, field in Settings.model_fields.items()}
    assert {name: documented.get(name) for name in expected} == expected
    assert set(documented) - set(expected) <= _runtime_variables()
    assert documented.keys() >= _runtime_variables()


def test_the_deploy_guide_names_every_input_s_yaml_takes_from_the_environment() -> None:
    inputs = set(_ENV_CALL.findall((REPO / "s.yaml").read_text()))
    guide = _readme_section("Deploy to your account")

    assert {name for name, _ in inputs if name not in guide} == set()
