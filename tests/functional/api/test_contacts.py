"""Contacts through the official CAS SDK: create, list, update, delete, and the format and uniqueness rules (also
when requests race, on each database)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.exceptions import ClientException

from certdeploy.app.accounts import create_account
from certdeploy.bootstrap.container import Container, build_container
from certdeploy.bootstrap.settings import Settings
from tests.contract.store_fixtures import BACKENDS, fresh_database
from tests.functional.api_support import api_server, sdk_client, webhooks_text
from tests.functional.conftest import ManualClock
from tests.rpc_calls import refused

LARK = "https://open.feishu.cn/open-apis/bot/v2/hook/0123abcd"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=abc"


def _contacts(client: CasClient, **filters: object) -> cas.ListContactResponseBody:
    return client.list_contact(cas.ListContactRequest(**filters)).body


def test_a_contact_is_created_listed_updated_and_deleted(client: CasClient) -> None:
    contact_id = client.create_contact(
        cas.CreateContactRequest(
            name="Ops", mobile="13800000000", email="ops@example.com", webhooks=webhooks_text(LARK, DINGTALK)
        )
    ).body.contact_id

    listed = _contacts(client)
    client.update_contact(
        cas.UpdateContactRequest(contact_id=contact_id, name="Ops team", webhooks=webhooks_text(LARK))
    )
    updated = _contacts(client, keyword="ops team").contact_list

    assert (listed.total_count, listed.show_size, listed.current_page) == (1, 20, 1)
    entry = listed.contact_list[0]
    assert (entry.contact_id, entry.name, entry.email, entry.mobile) == (
        contact_id,
        "Ops",
        "ops@example.com",
        "13800000000",
    )
    assert entry.webhook_list == [LARK, DINGTALK] and entry.webhooks == webhooks_text(LARK, DINGTALK)
    assert (entry.email_status, entry.mobile_status) == (1, 1)
    assert [(c.name, c.email, c.webhook_list) for c in updated] == [("Ops team", "ops@example.com", [LARK])]
    client.delete_contact(cas.DeleteContactRequest(contact_id=contact_id))
    assert _contacts(client).total_count == 0
    gone = refused(lambda: client.delete_contact(cas.DeleteContactRequest(contact_id=contact_id)))
    assert (gone.code, gone.status_code) == ("InvalidContactId.NotFound", 404)


def test_email_and_mobile_are_unique_in_the_account(client: CasClient) -> None:
    first = client.create_contact(cas.CreateContactRequest(name="A", mobile="13800000001", email="a@example.com"))
    second = client.create_contact(cas.CreateContactRequest(name="B", mobile="13800000002"))

    same_mobile = refused(lambda: client.create_contact(cas.CreateContactRequest(name="C", mobile="13800000001")))
    same_email = refused(
        lambda: client.update_contact(
            cas.UpdateContactRequest(contact_id=second.body.contact_id, email="A@example.com")
        )
    )

    assert (same_mobile.code, same_email.code) == ("AlreadyExists.Mobile", "AlreadyExists.Email")
    client.update_contact(cas.UpdateContactRequest(contact_id=first.body.contact_id, mobile="13800000001"))
    assert [c.email for c in _contacts(client).contact_list] == ["a@example.com", ""]


@pytest.fixture(params=BACKENDS)
def container_on_each_database(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[Container]:
    with fresh_database(request.param, tmp_path / "database") as url:
        built = build_container(Settings(data=tmp_path / "data", database_url=url), clock=clock, migrate=True)
        try:
            yield built
        finally:
            built.close()


def _all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on threads released together; each result is the reply or the SDK's exception."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except ClientException as refusal:
            return refusal

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_creates_racing_for_one_email_or_mobile_leave_one_contact_and_tell_the_others_why(
    container_on_each_database: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = container_on_each_database
    account = create_account(container.store, "acme", quota=0)
    racers = range(4)
    with api_server(container, monkeypatch) as server:
        clients = [sdk_client(server, account) for _ in racers]

        def creates(email: Callable[[int], str], mobile: Callable[[int], str]) -> list[Any]:
            return _all_at_once(
                [
                    lambda i=i: clients[i].create_contact(
                        cas.CreateContactRequest(name=f"c{i}", email=email(i), mobile=mobile(i))
                    )
                    for i in racers
                ]
            )

        same_email = creates(lambda i: "Ops@example.com" if i % 2 else "ops@EXAMPLE.com", lambda i: f"1380000000{i}")
        same_mobile = creates(lambda i: f"dev{i}@example.com", lambda i: "13900000000")
        listed = _contacts(clients[0])

    for results, code in ((same_email, "AlreadyExists.Email"), (same_mobile, "AlreadyExists.Mobile")):
        created = [r.body.contact_id for r in results if isinstance(r, cas.CreateContactResponse)]
        refusals = [(r.code, r.status_code) for r in results if isinstance(r, ClientException)]
        assert len(created) == 1 and refusals == [(code, 400)] * (len(racers) - 1), results
    assert listed.total_count == 2


def test_contact_format_errors_are_refused(client: CasClient) -> None:
    cases = [
        ("MissingParameter", {"name": "No mobile"}),
        ("MissingParameter", {"mobile": "13800000000"}),
        ("IncorrectFormat.Mobile", {"name": "x", "mobile": "call me"}),
        ("IncorrectFormat.Email", {"name": "x", "mobile": "13800000000", "email": "not-an-email"}),
        ("IncorrectFormat.Name", {"name": "n" * 65, "mobile": "13800000000"}),
        ("InvalidParameter.Webhooks", {"name": "x", "mobile": "13800000000", "webhooks": LARK}),
        (
            "IncorrectFormat.Webhooks",
            {"name": "x", "mobile": "13800000000", "webhooks": webhooks_text("http://10.0.0.1/hook")},
        ),
        (
            "IncorrectFormat.Webhooks",
            {
                "name": "x",
                "mobile": "13800000000",
                "webhooks": webhooks_text("http://open.feishu.cn/open-apis/bot/v2/hook/a"),
            },
        ),
    ]
    for code, fields in cases:
        error = refused(lambda fields=fields: client.create_contact(cas.CreateContactRequest(**fields)))
        assert (error.code, error.status_code) == (code, 400), fields
    assert _contacts(client).total_count == 0


def test_paging_of_contacts(client: CasClient) -> None:
    for i in range(3):
        client.create_contact(cas.CreateContactRequest(name=f"c{i}", mobile=f"1390000000{i}"))

    page = _contacts(client, show_size=2, current_page=2)
    bad = refused(lambda: _contacts(client, show_size=0))

    assert (page.total_count, [c.name for c in page.contact_list]) == (3, ["c2"])
    assert bad.code == "InvalidParameter.ShowSize"


def test_one_contact_is_read_by_its_id(client: CasClient) -> None:
    created = client.create_contact(
        cas.CreateContactRequest(
            name="Ops", mobile="13800001234", email="ops@example.com", webhooks=webhooks_text(LARK)
        )
    ).body.contact_id

    contact = client.get_contact(cas.GetContactRequest(contact_id=created)).body

    assert (contact.contact_id, contact.name, contact.email, contact.mobile) == (
        created,
        "Ops",
        "ops@example.com",
        "13800001234",
    )
    assert (contact.email_status, contact.mobile_status, contact.webhook_list) == (1, 1, [LARK])
    missing = refused(lambda: client.get_contact(cas.GetContactRequest(contact_id=created + 1)))
    assert (missing.code, missing.status_code) == ("InvalidContactId.NotFound", 404)
