"""`certdeploy contacts list|add|update|delete`: who a job tells when it ends, over the API (ListContact,
CreateContact, UpdateContact, DeleteContact). `Webhooks` goes as the API takes it: JSON text of a list of bot URLs
(docs/protocol.md#contacts)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from alibabacloud_cas20200407 import models as cas

from certdeploy.cli.api import CommandMaker, Listing, add_paging_options, api_from, each, list_items, noun_commands
from certdeploy.cli.output import console, print_json, reply_data, row, table


def add_commands(commands: Any, command: CommandMaker) -> None:
    api_command = noun_commands(commands, command, "contacts", "contacts told about jobs, over the API")

    listing = api_command("list", _list, "list contacts: id, name, email, mobile, webhooks")
    listing.add_argument("--keyword", help="only contacts whose name, email or mobile holds this")
    add_paging_options(listing, "contacts")

    add = api_command("add", _add, "add a contact")
    add.add_argument("--name", required=True)
    add.add_argument("--mobile", required=True, help="mobile number (for SMS)")
    add.add_argument("--email")
    _webhook_option(add)

    update = api_command("update", _update, "change a contact: only what is given changes")
    update.add_argument("contact_id", type=int, metavar="ID")
    update.add_argument("--name")
    update.add_argument("--mobile")
    update.add_argument("--email")
    webhooks = update.add_mutually_exclusive_group()
    _webhook_option(webhooks, "the contact's webhooks become these")
    webhooks.add_argument("--no-webhooks", action="store_true", help="remove every webhook")

    delete = api_command("delete", _delete, "delete contacts")
    delete.add_argument("contact_ids", type=int, nargs="+", metavar="ID")


def _webhook_option(parser: Any, help_text: str = "a DingTalk, WeCom or Lark bot URL to call") -> None:
    parser.add_argument(
        "--webhook", dest="webhooks", action="append", metavar="URL", help=f"{help_text} (repeat for more)"
    )


def _list(args: argparse.Namespace) -> int:
    contacts = list_items(
        api_from(args),
        args,
        Listing(
            "ListContact",
            lambda page, size: cas.ListContactRequest(keyword=args.keyword, current_page=page, show_size=size),
            items="ContactList",
            total="TotalCount",
        ),
    )
    if args.json:
        print_json(contacts)
        return 0
    shown = table(f"Contacts ({len(contacts)})", ("Id", "Name", "Email", "Mobile", "Webhooks"))
    for contact in contacts:
        row(
            shown,
            contact.get("ContactId"),
            contact.get("Name", ""),
            contact.get("Email", ""),
            contact.get("Mobile", ""),
            "\n".join(contact.get("WebhookList") or []),
        )
    console().print(shown)
    return 0


def _webhooks_text(webhooks: list[str] | None, *, none: bool = False) -> str | None:
    if none:
        return "[]"
    return None if webhooks is None else json.dumps(webhooks)


def _add(args: argparse.Namespace) -> int:
    body = api_from(args).call(
        "CreateContact",
        cas.CreateContactRequest(
            name=args.name, mobile=args.mobile, email=args.email, webhooks=_webhooks_text(args.webhooks)
        ),
    )
    return _done(args, body, "added")


def _update(args: argparse.Namespace) -> int:
    body = api_from(args).call(
        "UpdateContact",
        cas.UpdateContactRequest(
            contact_id=args.contact_id,
            name=args.name,
            mobile=args.mobile,
            email=args.email,
            webhooks=_webhooks_text(args.webhooks, none=args.no_webhooks),
        ),
    )
    return _done(args, body, "updated")


def _done(args: argparse.Namespace, body: dict[str, Any], what: str) -> int:
    if args.json:
        print_json(reply_data(body))
    else:
        console().print(f"Contact {body.get('ContactId')} {what}.")
    return 0


def _delete(args: argparse.Namespace) -> int:
    api = api_from(args)

    def delete(contact_id: int) -> None:
        api.call("DeleteContact", cas.DeleteContactRequest(contact_id=contact_id))

    return each(args, "ContactId", args.contact_ids, delete, "deleted")
