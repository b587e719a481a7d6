"""The events of an inventory file's YAML walked into `InventoryEntry`s one at a time (`read_inventory` in
adapters/local_inventory.py imports this module, and PyYAML with it, only when it reads a file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from certdeploy.adapters.local_inventory import InventoryEntry, InventoryError


def entries(loader: Any, path: Path) -> Iterator[InventoryEntry]:
    """Walk the parser's events: the top mapping, its `resources` list, each entry composed and validated alone."""
    loader.get_event()  # the stream's start
    if not loader.check_event(yaml.DocumentStartEvent):
        raise InventoryError(f"{path}: the file is empty; it needs a `resources:` list")
    loader.get_event()
    if not loader.check_event(yaml.MappingStartEvent):
        raise InventoryError(f"{path}: the file is not a mapping with a `resources:` list")
    loader.get_event()
    listed = False
    while not loader.check_event(yaml.MappingEndEvent):
        key = _value(loader, path)
        if key != "resources" or listed:
            raise InventoryError(f"{path}: unexpected key {key!r}: the file holds one `resources:` list")
        if not loader.check_event(yaml.SequenceStartEvent):
            raise InventoryError(f"{path}: `resources` is not a list")
        loader.get_event()
        index = 0
        while not loader.check_event(yaml.SequenceEndEvent):
            try:
                yield InventoryEntry.model_validate(_value(loader, path))
            except ValidationError as exc:
                raise InventoryError(f"{path}: resources[{index}]: {exc}") from exc
            index += 1
        loader.get_event()
        listed = True
    if not listed:
        raise InventoryError(f"{path}: the file has no `resources:` list")


def _value(loader: Any, path: Path) -> Any:
    """The next node's value, built from its events as `yaml.safe_load` would build it."""
    event = loader.get_event()
    if isinstance(event, yaml.ScalarEvent):
        tag = (
            event.tag if event.tag not in (None, "!") else loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        )
        # construct_document, not construct_object: it forgets the node, so nothing accumulates over the file.
        return loader.construct_document(yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
    if isinstance(event, yaml.MappingStartEvent):
        mapping = {}
        while not loader.check_event(yaml.MappingEndEvent):
            key = _value(loader, path)
            mapping[key] = _value(loader, path)
        loader.get_event()
        return mapping
    if isinstance(event, yaml.SequenceStartEvent):
        items = []
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_value(loader, path))
        loader.get_event()
        return items
    raise InventoryError(f"{path}: {event.start_mark}: anchors and aliases are not supported in an inventory")
