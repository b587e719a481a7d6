"""`certdeploy certs list|upload|delete`: the account's certificates over the API (ListUserCertificateOrder,
UploadUserCertificate, DeleteUserCertificate). `certdeploy cert issue` is the operator's command on the data
directory; these are a user's, with an AccessKey."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import shtab
from alibabacloud_cas20200407 import models as cas

from certdeploy.cli.api import CommandMaker, Listing, add_paging_options, api_from, each, list_items, noun_commands
from certdeploy.cli.output import console, print_json, reply_data, row, table

# CERT lists every certificate, official and uploaded (docs/protocol.md#certificates).
_ORDER_TYPE = "CERT"
_STATES = ("ISSUED", "WILLEXPIRED", "EXPIRED")


def add_commands(commands: Any, command: CommandMaker) -> None:
    api_command = noun_commands(commands, command, "certs", "certificates, over the API")

    listing = api_command("list", _list, "list certificates: id, name, domains, expiry, type")
    listing.add_argument("--keyword", help="only certificates whose name or domain holds this")
    listing.add_argument(
        "--status", type=str.upper, choices=_STATES, help="only these (default: the valid ones, ISSUED and WILLEXPIRED)"
    )
    add_paging_options(listing, "certificates")

    upload = api_command("upload", _upload, "upload a certificate and its private key from PEM files")
    upload.add_argument("--name", required=True, help="a name unique in the account")
    upload.add_argument(  # type: ignore[attr-defined]
        "--cert", required=True, type=Path, help="PEM file: the certificate, then its chain"
    ).complete = shtab.FILE
    upload.add_argument(  # type: ignore[attr-defined]
        "--key", required=True, type=Path, help="PEM file: the private key"
    ).complete = shtab.FILE

    delete = api_command("delete", _delete, "delete certificates")
    delete.add_argument("cert_ids", type=int, nargs="+", metavar="ID")


def domains(item: dict[str, Any]) -> str:
    """The CommonName, then the other SANs, as the certificate names them."""
    names = [item.get("CommonName") or "", *str(item.get("Sans") or "").split(",")]
    return ", ".join(dict.fromkeys(name for name in names if name))


def _list(args: argparse.Namespace) -> int:
    certificates = list_items(
        api_from(args),
        args,
        Listing(
            "ListUserCertificateOrder",
            lambda page, size: cas.ListUserCertificateOrderRequest(
                order_type=_ORDER_TYPE, keyword=args.keyword, status=args.status, current_page=page, show_size=size
            ),
            items="CertificateOrderList",
            total="TotalCount",
        ),
    )
    if args.json:
        print_json(certificates)
        return 0
    shown = table(f"Certificates ({len(certificates)})", ("Id", "Name", "Domains", "Expires", "Type"))
    for item in certificates:
        expires = f"{item.get('EndDate', '')}{' (expired)' if item.get('Expired') else ''}"
        row(
            shown,
            item.get("CertificateId"),
            item.get("Name", ""),
            domains(item),
            expires,
            "uploaded" if item.get("Upload") else "official",
        )
    console().print(shown)
    return 0


def _upload(args: argparse.Namespace) -> int:
    cert_pem = args.cert.read_text(encoding="ascii", errors="replace")
    key_pem = args.key.read_text(encoding="ascii", errors="replace")
    body = api_from(args).call(
        "UploadUserCertificate", cas.UploadUserCertificateRequest(name=args.name, cert=cert_pem, key=key_pem)
    )
    if args.json:
        print_json(reply_data(body))
    else:
        console().print(f"Certificate {body.get('CertId')} uploaded ({body.get('ResourceId')}).")
    return 0


def _delete(args: argparse.Namespace) -> int:
    api = api_from(args)

    def delete(cert_id: int) -> None:
        api.call("DeleteUserCertificate", cas.DeleteUserCertificateRequest(cert_id=cert_id))

    return each(args, "CertId", args.cert_ids, delete, "deleted")
