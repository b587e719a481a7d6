"""Every reply model's wire names are the official SDK's: a misspelt alias fails here, not in a customer's script.

Each action's reply model (its handler's return annotation) is walked against the SDK's `<Action>ResponseBody`
and, for each nested object, the SDK class the SDK names after it (`ListDeploymentJobResponseBody` → `…Data`). The
SDK's names are the keys its `to_map()` writes when every attribute is set. Names the SDK does not have are ours
and listed here; objects the SDK leaves untyped are listed too, with what stands in for them.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as sdk

from certdeploy.api.actions import ACTIONS
from certdeploy.api.replies import WireModel

# Wire names we answer that the SDK model has not: the SDK ignores them, scripts read them from the raw body.
EXTENSIONS = {
    "DescribeDeploymentJobStatus": {"ExcludedResources", "BindingChanges", "PlannedStartTime", "StageWorkerCounts"},
    # While a due job waits for its maintenance window (docs/decisions.md#maintenance-windows), and a job's staged
    # rollout (docs/decisions.md#staged-rollout).
    "DescribeDeploymentJob": {"WindowWaitUntil", "Stages", "MaxFailures", "StageCount", "CurrentStage", "HaltReason"},
    "ListDeploymentJob.Data": {"WindowWaitUntil"},
    "ListWorkerResource.Data": {
        "ErrorCode",
        "ErrorMessage",
        # The worker's verification (docs/verification.md).
        "VerifyStatus",
        "VerifyDetail",
        "VerifyServerName",
        "VerifyChecks",
        "VerifyCheckedAt",
        "ServedFingerprint",
        "ServedSubject",
        "ServedNotAfter",
    },
    # A CloudResource's `Remark` is set only by ListDeploymentJobResource, whose SDK model has it.
    "ListCloudResources.Data": {"Remark", "Tags"},
    "GetMatchedResources.Data": {"Remark", "Tags"},
    "ListDeploymentJobResource.Data": {"Tags"},
}
# Objects the SDK types as `Any`: the SDK class documenting the same object, or None when only we define it.
UNTYPED_IN_SDK: dict[str, type | None] = {
    "GetMatchedResources.Data": sdk.ListCloudResourcesResponseBodyData,
    "ListDeploymentJob.Data.Certificates": None,
    "DescribeDeploymentJobStatus.ExcludedResources": None,
    "DescribeDeploymentJobStatus.BindingChanges": None,
    "DescribeDeploymentJobStatus.StageWorkerCounts": None,
    "ListDeploymentJobEvents.Data": None,
    "ListCloudResources.Data.Tags": None,
    "GetMatchedResources.Data.Tags": None,
    "ListDeploymentJobResource.Data.Tags": None,
    "ListMaintenanceWindows.Data": None,
}
# Actions of ours beyond CAS (docs/protocol.md#job-timeline, #maintenance-windows): the SDK has no model for them, only
# the generic call.
BEYOND_CAS = {
    "ListDeploymentJobEvents",
    "CreateMaintenanceWindow",
    "ListMaintenanceWindows",
    "DeleteMaintenanceWindow",
}


class _Filled(list):
    """An attribute value every SDK `to_map()` accepts: iterable (lists of objects) and with a `to_map` (objects)."""

    def to_map(self) -> dict[str, Any]:
        return {}


def sdk_names(sdk_class: type) -> set[str]:
    instance = sdk_class()
    for attribute in vars(instance):
        setattr(instance, attribute, _Filled())
    return set(instance.to_map())


def _nested_model(annotation: Any) -> type[WireModel] | None:
    """The reply model inside `X`, `X | None` or `list[X]`."""
    if isinstance(annotation, type) and issubclass(annotation, WireModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found = _nested_model(argument)
            if found is not None:
                return found
    return None


def mismatches(model: type[WireModel], sdk_class: type | None, path: str) -> list[str]:
    """What in `model` (at `path`, e.g. `ListDeploymentJob.Data`) the SDK does not name, beyond our extensions."""
    problems = []
    if sdk_class is not None:
        unknown = {field.alias for field in model.model_fields.values()} - sdk_names(sdk_class)
        if unknown != EXTENSIONS.get(path, set()):
            problems.append(f"{path}: not in {sdk_class.__name__}: {sorted(unknown)}")
    for field in model.model_fields.values():
        nested = _nested_model(field.annotation)
        if nested is None:
            continue
        nested_path = f"{path}.{field.alias}"
        nested_sdk = getattr(sdk, f"{sdk_class.__name__}{field.alias}", None) if sdk_class is not None else None
        if nested_sdk is None:
            if nested_path not in UNTYPED_IN_SDK:
                problems.append(f"{nested_path}: the SDK has no class for it and it is not listed as untyped")
            nested_sdk = UNTYPED_IN_SDK.get(nested_path)
        problems += mismatches(nested, nested_sdk, nested_path)
    return problems


def reply_model(action: str) -> type[WireModel]:
    model = typing.get_type_hints(ACTIONS[action])["return"]
    assert issubclass(model, WireModel), action
    return model


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_reply_uses_the_sdk_wire_names(action: str) -> None:
    sdk_body = None if action in BEYOND_CAS else getattr(sdk, f"{action}ResponseBody")
    assert mismatches(reply_model(action), sdk_body, action) == []


@pytest.mark.parametrize("action", sorted(BEYOND_CAS))
def test_actions_beyond_cas_are_not_in_the_sdk(action: str) -> None:
    assert not hasattr(sdk, f"{action}ResponseBody")


def test_the_listed_exceptions_are_all_still_needed() -> None:
    paths = set()

    def walk(model: type[WireModel], path: str) -> None:
        paths.add(path)
        for field in model.model_fields.values():
            nested = _nested_model(field.annotation)
            if nested is not None:
                walk(nested, f"{path}.{field.alias}")

    for action in ACTIONS:
        walk(reply_model(action), action)
    assert set(EXTENSIONS) <= paths and set(UNTYPED_IN_SDK) <= paths


def test_a_misspelt_alias_is_caught() -> None:
    class Misspelt(WireModel):
        job_id: int
        cert_nmae: str

    assert mismatches(Misspelt, sdk.ListDeploymentJobResponseBodyData, "ListDeploymentJob.Data") == [
        "ListDeploymentJob.Data: not in ListDeploymentJobResponseBodyData: ['CertNmae', 'JobId']"
    ]


def test_a_reply_leaves_out_what_it_does_not_have_and_keeps_wire_types() -> None:
    class Sample(WireModel):
        cert_id: int
        cert_end_time: str | None = None
        default_resource: bool | None = None

    assert Sample(cert_id=7, default_resource=True).wire() == {"CertId": 7, "DefaultResource": True}
    with pytest.raises(ValueError, match="string"):
        Sample(cert_id=7, cert_end_time=1700000000000)  # type: ignore[arg-type]
