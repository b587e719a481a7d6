"""Contact replies: CreateContact, UpdateContact, GetContact, ListContact."""

from __future__ import annotations

from certdeploy.api.replies import WireModel


class ContactId(WireModel):
    """CreateContact, UpdateContact."""

    contact_id: int


class Contact(WireModel):
    """GetContact, and each contact of ListContact. `Webhooks` is the URL list as JSON text, `WebhookList` the same
    list."""

    contact_id: int
    name: str
    email: str
    email_status: int
    mobile: str
    mobile_status: int
    webhooks: str
    webhook_list: list[str]


class ContactPage(WireModel):
    """ListContact."""

    total_count: int
    current_page: int
    show_size: int
    keyword: str
    contact_list: list[Contact]
