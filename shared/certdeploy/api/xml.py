"""Replies in XML, for requests that ask for `Format=XML` (docs/protocol.md#responses): the same body as the JSON
reply — the declared reply models' wire form, or the error body — written the way the POP gateway writes XML.

- The root is `<Action>Response` for a success and `Error` for an error.
- An object is one element per field, in order; a list is one element per item, each named as the list; a missing
  value (None) is left out, as in JSON; booleans are `true`/`false`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

XML_CONTENT_TYPE = "text/xml;charset=utf-8"
ERROR_ROOT = "Error"


def success_root(action: str) -> str:
    return f"{action}Response"


def xml_text(root: str, body: Mapping[str, Any]) -> str:
    """The document of `body` under `root`, with the XML declaration."""
    # Imported by the first XML reply: JSON callers' cold starts do not load the XML library.
    from xml.etree import ElementTree

    element = ElementTree.Element(root)
    _add_fields(element, body)
    return "<?xml version='1.0' encoding='UTF-8'?>" + ElementTree.tostring(element, encoding="unicode")


def _add_fields(parent: Element, body: Mapping[str, Any]) -> None:
    for name, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            _add(parent, name, item)


def _add(parent: Element, name: str, value: Any) -> None:
    if value is None:
        return
    child = parent.makeelement(name, {})
    parent.append(child)
    if isinstance(value, Mapping):
        _add_fields(child, value)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    else:
        child.text = str(value)
