"""What the user commands (`certdeploy certs|resources|contacts|jobs …`) share: the CAS API of one endpoint and
AccessKey, reached through the official SDK `alibabacloud_cas20200407`, with the endpoint and AccessKey from flags or
`CERTDEPLOY_ENDPOINT`, `CERTDEPLOY_ACCESS_KEY_ID`, `CERTDEPLOY_ACCESS_KEY_SECRET`.

Requests are built with the SDK's typed request models and sent through its generic `call_api`, which returns the
response body as the server sent it: the typed responses drop fields the SDK does not know, and certdeploy returns
some (`ExcludedResources` in DescribeDeploymentJobStatus, `ErrorCode`/`ErrorMessage` on workers).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
from darabonba.model import DaraModel
from darabonba.runtime import RuntimeOptions
from rich.markup import escape
from Tea.exceptions import TeaException

from certdeploy.cli.output import console, paging_progress, print_json

API_VERSION = "2020-04-07"
DEFAULT_ENDPOINT = "http://127.0.0.1:8787"
PAGE_SIZE = 50
# A URL's query in the SDK's connection errors ("Max retries exceeded with url: /?Cert=…&Key=…"): the request's
# parameters, UploadUserCertificate's private key among them, are never printed.
_URL_QUERY = re.compile(r"\?[^\s'\"]*")


class ApiCallError(Exception):
    """A call to the API failed. With `code`, the API answered an error (`Code: Message (RequestId)`); without,
    it could not be asked (no AccessKey, no answer)."""

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.code}: {self.message}" + (f" ({self.request_id})" if self.request_id else "")

    def as_json(self) -> dict[str, str]:
        """The API's error fields, as it sent them; only `Message` when the API did not answer."""
        fields = {"Code": self.code, "Message": self.message, "RequestId": self.request_id}
        return {key: value for key, value in fields.items() if value is not None}


class CasApi:
    """The CAS API of one endpoint and AccessKey; `call` answers the raw response body."""

    def __init__(self, endpoint: str, access_key_id: str, access_key_secret: str) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ApiCallError(f"'{endpoint}' is not an endpoint; give e.g. {DEFAULT_ENDPOINT}")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self._protocol = parts.scheme.upper()
        self._client = CasClient(
            Config(
                endpoint=parts.netloc,
                protocol=parts.scheme,
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                connect_timeout=5_000,
                read_timeout=60_000,
            )
        )

    def call(self, action: str, request: DaraModel | None, extra: dict[str, str] | None = None) -> dict[str, Any]:
        """Call `action`; `extra` adds parameters of ours that the SDK's request model has not (an action of ours has
        no request model: None)."""
        params = Params(
            action=action,
            version=API_VERSION,
            protocol=self._protocol,
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        try:
            response = self._client.call_api(
                params,
                OpenApiRequest(query={**(Utils.query(request.to_map()) if request else {}), **(extra or {})}),
                RuntimeOptions(),
            )
        except AlibabaCloudException as exc:
            # The SDK's own message adds the HTTP status and the request id to the API's; the body has them apart.
            data = exc.data if isinstance(exc.data, dict) else {}
            raise ApiCallError(
                str(data.get("Message") or exc.message),
                code=str(data.get("Code") or exc.code),
                request_id=data.get("RequestId") or exc.request_id,
            ) from exc
        except TeaException as exc:
            reason = _URL_QUERY.sub("?…", str(exc))
            raise ApiCallError(f"{action}: cannot reach {self.endpoint}: {reason}") from exc
        body = response.get("body")
        if not isinstance(body, dict):
            raise ApiCallError(f"{action}: {self.endpoint} answered something that is not a JSON object")
        return body

    def pages(
        self, listing: Listing, page_size: int = PAGE_SIZE, progress: Callable[[int, int], None] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, page by page; `progress(items so far, total)` after each page."""
        page, fetched = 1, 0
        while True:
            body = self.call(listing.action, listing.request(page, page_size))
            items = body.get(listing.items) or []
            total = int(body.get(listing.total) or 0)
            fetched += len(items)
            if progress is not None:
                progress(fetched, total)
            yield from items
            if not items or page * page_size >= total:
                return
            page += 1


@dataclass(frozen=True)
class Listing:
    """A paged list action: its request for (page, size), and the reply's fields holding the items and their count."""

    action: str
    request: Callable[[int, int], DaraModel]
    items: str = "Data"
    total: str = "Total"


Handler = Callable[[argparse.Namespace], int]
# main's maker of one subcommand: command(parent, name, handler, help, data=) with the common options.
CommandMaker = Callable[..., argparse.ArgumentParser]
# What a noun's add_commands gets: api_command(name, handler, help) makes `certdeploy <noun> <name>`.
ApiCommand = Callable[[str, Handler, str], argparse.ArgumentParser]


def noun_commands(commands: Any, command: CommandMaker, noun: str, help_text: str) -> ApiCommand:
    """The `certdeploy <noun>` group; each of its commands takes the endpoint and AccessKey options."""
    group = commands.add_parser(noun, help=help_text, description=help_text).add_subparsers(
        dest=f"{noun}_command", required=True, metavar="ACTION"
    )

    def api_command(name: str, handler: Handler, command_help: str) -> argparse.ArgumentParser:
        sub = command(group, name, handler, command_help, data=False)
        sub.add_argument("--endpoint", help=f"API endpoint (env CERTDEPLOY_ENDPOINT, default {DEFAULT_ENDPOINT})")
        sub.add_argument("--access-key-id", help="env CERTDEPLOY_ACCESS_KEY_ID")
        sub.add_argument("--access-key-secret", help="env CERTDEPLOY_ACCESS_KEY_SECRET")
        return sub

    return api_command


def add_paging_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--page", type=positive_int, help=f"only this page of {what} (default: every page)")
    parser.add_argument("--size", type=positive_int, default=PAGE_SIZE, help=f"{what} per page (default {PAGE_SIZE})")


def api_from(args: argparse.Namespace) -> CasApi:
    key_id = args.access_key_id or os.environ.get("CERTDEPLOY_ACCESS_KEY_ID")
    secret = args.access_key_secret or os.environ.get("CERTDEPLOY_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        raise ApiCallError(
            "no AccessKey: pass --access-key-id/--access-key-secret or set CERTDEPLOY_ACCESS_KEY_ID and "
            "CERTDEPLOY_ACCESS_KEY_SECRET (certdeploy serve prints them on first start)"
        )
    return CasApi(args.endpoint or os.environ.get("CERTDEPLOY_ENDPOINT") or DEFAULT_ENDPOINT, key_id, secret)


def list_items(api: CasApi, args: argparse.Namespace, listing: Listing) -> list[dict[str, Any]]:
    """The items of `--page` alone, or of every page with a progress line on a terminal while they come."""
    if args.page is not None:
        body = api.call(listing.action, listing.request(args.page, args.size))
        return list(body.get(listing.items) or [])
    with paging_progress(listing.action) as advance:
        return list(api.pages(listing, args.size, advance))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def id_list(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of ids") from exc
    if not ids:
        raise argparse.ArgumentTypeError("give at least one id")
    return ids


def each(args: argparse.Namespace, key: str, ids: list[int], action: Callable[[int], None], done: str) -> int:
    """Apply `action` to every id, reporting each result; non-zero when any failed. With --json, a list of
    {key: id, "Ok": …} with the API's error (`Code`, `Message`, `RequestId`) as `Error` for a failure."""
    failures: dict[int, ApiCallError] = {}
    for item in ids:
        try:
            action(item)
        except ApiCallError as exc:
            failures[item] = exc
    if args.json:
        print_json([_outcome(key, item, failures.get(item)) for item in ids])
    else:
        out = console()
        for item in ids:
            outcome = f"[red]failed[/red]: {escape(str(failures[item]))}" if item in failures else done
            out.print(f"{key} {item}: {outcome}")
    return 1 if failures else 0


def _outcome(key: str, item: int, failure: ApiCallError | None) -> dict[str, Any]:
    if failure is None:
        return {key: item, "Ok": True}
    return {key: item, "Ok": False, "Error": failure.as_json()}
