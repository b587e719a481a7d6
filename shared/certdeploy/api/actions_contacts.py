"""Contact actions: CreateContact, GetContact, ListContact, UpdateContact, DeleteContact (docs/protocol.md#contacts).

`Webhooks` is a "string in list format": JSON text of a list of URLs. Each URL must be one the webhook notifier
would call (a DingTalk, WeCom or Lark bot over https, or a host the operator allowed). `Idcard` (CFCA certificates
only) is accepted and not used. We send to addresses without verifying them first, so `EmailStatus` and
`MobileStatus` are 1 when the address is set, 0 when not.
"""

from __future__ import annotations

import json

from certdeploy.api.actions_common import ActionContext, build, paging
from certdeploy.api.replies import Empty
from certdeploy.api.replies.contacts import Contact, ContactId, ContactPage
from certdeploy.api.rpc import RpcParameters
from certdeploy.app.contacts import (
    ContactChanges,
    ContactDraft,
    create_contact,
    delete_contact,
    update_contact,
)
from certdeploy.domain import models

DEFAULT_SHOW_SIZE = 20
_PARAMETER_OF = {"name": "Name", "mobile": "Mobile", "email": "Email", "webhooks": "Webhooks"}


def contact_reply(contact: models.Contact) -> Contact:
    return Contact(
        contact_id=contact.id,
        name=contact.name,
        email=contact.email or "",
        email_status=1 if contact.email else 0,
        mobile=contact.mobile or "",
        mobile_status=1 if contact.mobile else 0,
        webhooks=json.dumps(list(contact.webhooks)),
        webhook_list=list(contact.webhooks),
    )


def create_contact_action(ctx: ActionContext, params: RpcParameters) -> ContactId:
    webhooks = params.optional_json_text_list("Webhooks")
    draft = build(
        ContactDraft,
        _PARAMETER_OF,
        name=params.text("Name"),
        mobile=params.text("Mobile"),
        email=params.optional_text("Email"),
        webhooks=tuple(webhooks or ()),
    )
    contact = create_contact(ctx.deps, ctx.account_id, draft, ctx.api.webhook_check)
    return ContactId(contact_id=contact.id)


def update_contact_action(ctx: ActionContext, params: RpcParameters) -> ContactId:
    contact_id = params.integer("ContactId")
    webhooks = params.optional_json_text_list("Webhooks")
    changes = build(
        ContactChanges,
        _PARAMETER_OF,
        name=params.optional_text("Name"),
        mobile=params.optional_text("Mobile"),
        email=params.optional_text("Email"),
        webhooks=None if webhooks is None else tuple(webhooks),
    )
    contact = update_contact(ctx.deps, ctx.account_id, contact_id, changes, ctx.api.webhook_check)
    return ContactId(contact_id=contact.id)


def delete_contact_action(ctx: ActionContext, params: RpcParameters) -> Empty:
    delete_contact(ctx.deps, ctx.account_id, params.integer("ContactId"))
    return Empty()


def get_contact(ctx: ActionContext, params: RpcParameters) -> Contact:
    return contact_reply(ctx.deps.store.contacts.get(ctx.account_id, params.integer("ContactId")))


def list_contact(ctx: ActionContext, params: RpcParameters) -> ContactPage:
    keyword = params.optional_keyword("Keyword")
    page, size = paging(params, DEFAULT_SHOW_SIZE)
    found = ctx.deps.store.contacts.search(ctx.account_id, keyword=keyword, page=page, page_size=size)
    return ContactPage(
        total_count=found.total,
        current_page=page,
        show_size=size,
        keyword=keyword or "",
        contact_list=[contact_reply(contact) for contact in found.items],
    )
