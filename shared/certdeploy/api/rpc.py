"""One RPC-style API request as the API function sees it, and typed reads of its business parameters.

Business parameters travel in the query string (every CAS deployment operation, docs/protocol.md#transport) or in an
`application/x-www-form-urlencoded` body; both are form-decoded (`+` is a space). The action and version come from the
signed place: the `Action`/`Version` query parameters when present (V1 signs the query, not the headers), else the
`x-acs-action`/`x-acs-version` headers (V3 signs those).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict

from certdeploy.api.errors import BAD_REQUEST, ApiError, invalid_parameter, missing_parameter

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Far above any CAS request (UploadUserCertificate with Tags has a few dozen) and still a bound on parsing work.
MAX_PARAMETERS = 1000
# A list parameter's items (ids, webhook URLs): far above any real job or contact, and a bound on parsing work.
MAX_LIST_ITEMS = 10_000
# A search keyword holds any domain name (253), e-mail address (254) or certificate name, and stays far below what
# a database refuses as a pattern (README "Limits").
MAX_KEYWORD_LENGTH = 256
# Common parameters of the V1 signature and of Bearer/STS credentials (docs/protocol.md#transport): not business
# parameters.
PROTOCOL_PARAMETERS = frozenset(
    {
        "AccessKeyId",
        "Action",
        "BearerToken",
        "Format",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "Timestamp",
        "Version",
    }
)

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"-?[0-9]+")
_BOOLEANS = {"True": True, "true": True, "False": False, "false": False}

Pairs = tuple[tuple[str, str], ...]


def form_decode(text: str, *, what: str) -> Pairs:
    """`a=1&b=x+y` → (("a", "1"), ("b", "x y")), keeping empty values and repeated names in order."""
    try:
        return tuple(
            parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_PARAMETERS)
        )
    except UnicodeDecodeError as error:
        raise ApiError(BAD_REQUEST, "InvalidParameter", f"The {what} is not valid UTF-8 once decoded.") from error
    except ValueError as error:
        raise ApiError(BAD_REQUEST, "InvalidParameter", f"The {what} has more than {MAX_PARAMETERS} parameters.") from (
            error
        )


class RpcRequest(BaseModel):
    """An HTTP request: method, path, form-decoded query pairs, lower-cased headers with all their values, raw body,
    and the caller's address."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    method: str
    path: str
    query: Pairs
    headers: dict[str, tuple[str, ...]]
    body: bytes
    source: str

    @classmethod
    def from_http(
        cls, *, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes, source: str
    ) -> RpcRequest:
        """From an HTTP request line's target (`/?Name=a+b&…`) and the header lines as received."""
        path, _, raw_query = target.partition("?")
        return cls(
            method=method.upper(),
            path=path or "/",
            query=form_decode(raw_query, what="query string"),
            headers=_group_headers(headers),
            body=body,
            source=source,
        )

    @classmethod
    def from_decoded(
        cls,
        *,
        method: str,
        path: str,
        query: Mapping[str, str | Sequence[str]],
        headers: Mapping[str, str | Sequence[str]],
        body: bytes,
        source: str,
    ) -> RpcRequest:
        """From a trigger event whose query parameters are already decoded (API Gateway, FC HTTP trigger)."""
        return cls(
            method=method.upper(),
            path=path or "/",
            query=tuple(_flatten(query)),
            headers=_group_headers(_flatten(headers)),
            body=body,
            source=source,
        )

    def header(self, name: str) -> str | None:
        """The header's value; several values are comma-joined as HTTP allows."""
        values = self.headers.get(name.lower())
        return ",".join(values) if values else None

    def body_parameters(self) -> Pairs:
        """Form-decoded body when it is `application/x-www-form-urlencoded`, else nothing."""
        media_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if media_type != FORM_CONTENT_TYPE or not self.body:
            return ()
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiError(BAD_REQUEST, "InvalidParameter", "The form body is not valid UTF-8.") from error
        return form_decode(text, what="form body")

    def all_parameters(self) -> Pairs:
        """Query and form-body parameters together: what a V1 signature covers."""
        return self.query + self.body_parameters()

    def query_value(self, name: str) -> str | None:
        """The first value of a query parameter."""
        return next((value for key, value in self.query if key == name), None)

    @property
    def action(self) -> str | None:
        return self.query_value("Action") or self.header("x-acs-action")

    @property
    def version(self) -> str | None:
        return self.query_value("Version") or self.header("x-acs-version")

    def parameters(self) -> RpcParameters:
        """The business parameters (protocol parameters of the signature left out)."""
        return RpcParameters(pair for pair in self.all_parameters() if pair[0] not in PROTOCOL_PARAMETERS)


def _flatten(mapping: Mapping[str, str | Sequence[str]]) -> Iterable[tuple[str, str]]:
    for name, value in mapping.items():
        if isinstance(value, str):
            yield name, value
        else:
            yield from ((name, item) for item in value)


def _group_headers(headers: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, tuple[str, ...]] = {}
    for name, value in headers:
        key = name.lower()
        grouped[key] = (*grouped.get(key, ()), value)
    return grouped


class RpcParameters:
    """Typed reads of business parameters with CAS-style errors.

    An absent and an empty value mean the same: not given (optional reads return None, required ones raise
    `MissingParameter`). A name given twice is `InvalidParameter.<Name>`: no CAS operation takes repeated names.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def names(self) -> frozenset[str]:
        return frozenset(self._values)

    def optional_text(self, name: str) -> str | None:
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise invalid_parameter(name, "it is given more than once")
        return values[0] or None

    def text(self, name: str) -> str:
        value = self.optional_text(name)
        if value is None:
            raise missing_parameter(name)
        return value

    def optional_keyword(self, name: str) -> str | None:
        """A search keyword of at most MAX_KEYWORD_LENGTH characters."""
        value = self.optional_text(name)
        if value is not None and len(value) > MAX_KEYWORD_LENGTH:
            raise invalid_parameter(name, f"it is {len(value):,} characters long; at most {MAX_KEYWORD_LENGTH}")
        return value

    def optional_integer(self, name: str) -> int | None:
        value = self.optional_text(name)
        return None if value is None else _integer(name, value)

    def integer(self, name: str) -> int:
        return _integer(name, self.text(name))

    def optional_boolean(self, name: str) -> bool | None:
        """`True`/`False` as the Python SDK sends them (docs/protocol.md#parameter-encoding), `true`/`false` as other
        SDKs do."""
        value = self.optional_text(name)
        if value is None:
            return None
        if value not in _BOOLEANS:
            raise invalid_parameter(name, "it must be True or False")
        return _BOOLEANS[value]

    def boolean(self, name: str) -> bool:
        value = self.optional_boolean(name)
        if value is None:
            raise missing_parameter(name)
        return value

    def optional_integer_list(self, name: str) -> list[int] | None:
        """`1,2,3` (caller-built comma lists, e.g. CreateDeploymentJob `CertIds`) or `[1,2,3]` (JSON-style arrays,
        e.g. ListCloudResources `CertIds`, docs/protocol.md#parameter-encoding)."""
        value = self._optional_list_text(name)
        if value is None:
            return None
        if value.lstrip().startswith("["):
            items = _json_list(name, value)
            if not all(isinstance(item, int) and not isinstance(item, bool) for item in items):
                raise invalid_parameter(name, "it must be a JSON list of integers")
            return [_integer(name, str(item)) for item in items]
        return [_integer(name, item.strip()) for item in value.split(",")]

    def integer_list(self, name: str) -> list[int]:
        value = self.optional_integer_list(name)
        if not value:
            raise missing_parameter(name)
        return value

    def optional_json_text_list(self, name: str) -> list[str] | None:
        """A "string in list format" (`["https://…","https://…"]`, e.g. CreateContact `Webhooks`)."""
        value = self._optional_list_text(name)
        if value is None:
            return None
        items = _json_list(name, value)
        if not all(isinstance(item, str) for item in items):
            raise invalid_parameter(name, "it must be a JSON list of strings")
        return items

    def _optional_list_text(self, name: str) -> str | None:
        """A list parameter's text, refused before it is parsed when it holds more than MAX_LIST_ITEMS items."""
        value = self.optional_text(name)
        if value is not None and value.count(",") >= MAX_LIST_ITEMS:
            raise invalid_parameter(name, f"it holds more than {MAX_LIST_ITEMS:,} items")
        return value

    def object_list(self, name: str, fields: Sequence[str]) -> list[dict[str, str]]:
        """Objects sent as 1-based dotted keys (`Tags.1.Key=env&Tags.1.Value=prod`), ordered by their index.

        Each object holds the fields that were given; an index that is not a positive decimal or a field not in
        `fields` is `InvalidParameter.<name>`. No such keys at all gives an empty list.
        """
        prefix = f"{name}."
        by_index: dict[int, dict[str, str]] = {}
        for key in self._values:
            if not key.startswith(prefix):
                continue
            index_text, _, field = key[len(prefix) :].partition(".")
            if not index_text.isdecimal() or int(index_text) < 1 or field not in fields:
                raise invalid_parameter(name, f"{key} is not {name}.<n>.<{'|'.join(fields)}> with n from 1")
            value = self.optional_text(key)
            if value is not None:
                by_index.setdefault(int(index_text), {})[field] = value
        return [by_index[index] for index in sorted(by_index)]


def _integer(name: str, text: str) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise invalid_parameter(name, f"{text!r} is not a decimal integer")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise invalid_parameter(name, f"{text} does not fit in 64 bits")
    return value


def _json_list(name: str, text: str) -> list[object]:
    try:
        items = json.loads(text)
    except ValueError as error:
        raise invalid_parameter(name, "it is not valid JSON") from error
    except RecursionError as error:
        # The decoder nests a call per `[`; a list of ids or URLs is flat.
        raise invalid_parameter(name, "it is nested too deeply; it must be a flat JSON list") from error
    if not isinstance(items, list):
        raise invalid_parameter(name, "it must be a JSON list")
    return items
