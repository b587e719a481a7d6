"""A reply checked against the Python CAS SDK's typed model (`alibabacloud_cas20200407.models.<Action>ResponseBody`):
`from_map` the JSON, then every field the model declares that the JSON carries must come back out of `to_map` (not
dropped) and have the model's type (the models do not check types themselves, so a mismatch would reach the user)."""

from __future__ import annotations

import typing
from typing import Any

from alibabacloud_cas20200407 import models
from Tea.model import TeaModel

_UNSET = object()


def reply_problems(action: str, reply: dict[str, Any]) -> list[str]:
    return _model_problems(getattr(models, f"{action}ResponseBody"), reply, action)


def _model_problems(model: type[TeaModel], raw: Any, path: str) -> list[str]:
    if not isinstance(raw, dict):
        return [f"{path}: the model has an object, the reply {type(raw).__name__}"]
    kept = model().from_map(raw).to_map()
    problems = []
    for attribute, hint in _fields(model).items():
        wire = _wire_name(model, attribute, hint)
        value = raw.get(wire)
        if value is None:
            continue
        if kept.get(wire) is None:
            problems.append(f"{path}.{wire}: dropped by the model")
        problems += _value_problems(hint, value, f"{path}.{wire}")
    return problems


def _value_problems(hint: Any, value: Any, path: str) -> list[str]:
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: the model has a list, the reply {type(value).__name__}"]
        (item,) = typing.get_args(hint)
        return [
            problem for index, one in enumerate(value) for problem in _value_problems(item, one, f"{path}[{index}]")
        ]
    if origin is dict:
        return [] if isinstance(value, dict) else [f"{path}: the model has a map, the reply {type(value).__name__}"]
    if isinstance(hint, type) and issubclass(hint, TeaModel):
        return _model_problems(hint, value, path)
    if hint is Any:
        return []
    # JSON has no integer/boolean overlap the SDK would accept: a bool is not an int here, an int is a float.
    fits = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    fits = fits or (hint is float and isinstance(value, int) and not isinstance(value, bool))
    return [] if fits else [f"{path}: the model has {hint.__name__}, the reply {type(value).__name__} {value!r}"]


def _fields(model: type[TeaModel]) -> dict[str, Any]:
    hints = typing.get_type_hints(model.__init__)
    hints.pop("return", None)
    return hints


def _wire_name(model: type[TeaModel], attribute: str, hint: Any) -> str:
    """The JSON name `to_map` writes the attribute under (the models keep no table of names)."""
    empty = model().to_map()
    filled = model()
    setattr(filled, attribute, _placeholder(hint))
    (name,) = [key for key, value in filled.to_map().items() if empty.get(key, _UNSET) != value]
    return name


def _placeholder(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        return [None]
    if origin is dict:
        return {"placeholder": 1}
    if isinstance(hint, type) and issubclass(hint, TeaModel):
        return hint()
    return "placeholder"
