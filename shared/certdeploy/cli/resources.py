"""`certdeploy resources list`: the account's cloud resources over the API (ListCloudResources) and, with `--cert`,
which of the given certificates each one would get (GetMatchedResources, asked once per certificate so that every
resource says which certificates match it)."""

from __future__ import annotations

import argparse
from typing import Any

from alibabacloud_cas20200407 import models as cas

from certdeploy.cli.api import CasApi, CommandMaker, Listing, add_paging_options, api_from, list_items, noun_commands
from certdeploy.cli.output import console, print_json, row, table, time_text

# GetMatchedResources answers at most this many resources, unpaged (docs/protocol.md#cloud-resources).
MAX_MATCHED = 2000
MATCHED_FIELD = "MatchedCertIds"


def add_commands(commands: Any, command: CommandMaker) -> None:
    api_command = noun_commands(commands, command, "resources", "cloud resources, over the API")
    listing = api_command(
        "list", _list, "list cloud resources: product, domain, HTTPS, bound certificate, or matches with --cert"
    )
    listing.add_argument("--product", help="only this cloud product, e.g. CDN, ALB, SAE")
    listing.add_argument("--keyword", help="only resources whose domain or instance holds this")
    listing.add_argument(
        "--cert",
        dest="cert_ids",
        type=int,
        nargs="+",
        action="extend",
        metavar="ID",
        help="show which of these certificates match each resource",
    )
    listing.add_argument("--matched", action="store_true", help="with --cert: only the resources one of them matches")
    add_paging_options(listing, "resources")


def _list(args: argparse.Namespace) -> int:
    api = api_from(args)
    resources = list_items(
        api,
        args,
        Listing(
            "ListCloudResources",
            lambda page, size: cas.ListCloudResourcesRequest(
                cloud_product=args.product, keyword=args.keyword, current_page=page, show_size=size
            ),
        ),
    )
    if args.cert_ids:
        resources = _with_matches(api, resources, args.cert_ids, only_matched=args.matched)
    if args.json:
        print_json(resources)
        return 0
    # The Tags column only where the inventory gives tags (they choose maintenance windows).
    tagged = any(resource.get("Tags") for resource in resources)
    columns = ["Id", "Product", "Domain", "Instance", "Region", "HTTPS", "Certificate", *(["Tags"] if tagged else [])]
    cert_ids = list(dict.fromkeys(args.cert_ids or ()))
    shown = table(f"Resources ({len(resources)})", [*columns, *(f"Cert {cert_id}" for cert_id in cert_ids)])
    for resource in resources:
        matched = resource.get(MATCHED_FIELD, ())
        row(
            shown,
            resource.get("Id"),
            resource.get("CloudProduct", ""),
            _domain(resource),
            resource.get("InstanceId") or "",
            resource.get("RegionId", ""),
            "on" if resource.get("EnableHttps") else "off",
            _bound(resource),
            *([",".join(f"{tag['Key']}={tag['Value']}" for tag in resource.get("Tags") or ())] if tagged else []),
            *("matches" if cert_id in matched else "-" for cert_id in cert_ids),
        )
    console().print(shown)
    return 0


def _with_matches(
    api: CasApi, resources: list[dict[str, Any]], cert_ids: list[int], *, only_matched: bool
) -> list[dict[str, Any]]:
    """Each resource with `MatchedCertIds`: the given certificates that match it now."""
    matched_by: dict[int, list[int]] = {}
    for cert_id in dict.fromkeys(cert_ids):
        body = api.call(
            "GetMatchedResources", cas.GetMatchedResourcesRequest(cert_ids=str(cert_id), max_results=MAX_MATCHED)
        )
        matched = body.get("Data") or []
        if len(matched) >= MAX_MATCHED:
            console(stderr=True).print(
                f"[yellow]Certificate {cert_id} matches {MAX_MATCHED} resources or more: the API lists no more,"
                " so some matches may not show.[/yellow]"
            )
        for resource in matched:
            matched_by.setdefault(int(resource["Id"]), []).append(cert_id)
    with_matches = [{**resource, MATCHED_FIELD: matched_by.get(int(resource["Id"]), [])} for resource in resources]
    return [resource for resource in with_matches if resource[MATCHED_FIELD]] if only_matched else with_matches


def _domain(resource: dict[str, Any]) -> str:
    port = resource.get("ListenerPort")
    return f"{resource.get('Domain', '')}:{port}" if port else str(resource.get("Domain", ""))


def _bound(resource: dict[str, Any]) -> str:
    """The certificate bound now: ours by id, another by name; with its expiry."""
    cert_id, name = resource.get("CertId"), resource.get("CertName") or ""
    label = f"{cert_id} {name}".strip() if cert_id else name
    expires = time_text(resource.get("CertEndTime"))
    return f"{label} (until {expires[:10]})" if label and expires else label
