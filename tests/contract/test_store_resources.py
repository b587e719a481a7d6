"""The SQL store on real databases (SQLite, PostgreSQL, MySQL/MariaDB; see `store_fixtures`):
Cloud resources, upserted by natural key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from certdeploy.adapters.sql import SqlStore
from certdeploy.domain.errors import NotFound
from certdeploy.domain.models import Product
from certdeploy.domain.states import JobStatus, WorkerStatus
from certdeploy.ports.store.resources import ResourceSpec

J, W = JobStatus, WorkerStatus


def test_upsert_by_natural_key_keeps_ids_stable_and_refreshes_the_rest(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    cdn = ResourceSpec(product=Product.CDN, region="cn-hangzhou", instance_id="cdn-1", domain="a.example.com")
    alb_443 = ResourceSpec(
        product=Product.ALB, region="cn-hangzhou", instance_id="alb-1", domain="a.example.com", port=443
    )
    alb_8443 = ResourceSpec(
        product=Product.ALB, region="cn-hangzhou", instance_id="alb-1", domain="a.example.com", port=8443
    )
    first = store.resources.upsert(account.id, [cdn, alb_443, alb_8443])

    again = store.resources.upsert(
        account.id, [ResourceSpec(**{**alb_443.__dict__, "bound_cert_id": 7, "bound_cert_name": "web"}), cdn]
    )

    assert len(set(first)) == 3 and again == [first[1], first[0]]
    refreshed = store.resources.get_many(account.id, [first[1]])[0]
    assert (refreshed.bound_cert_id, refreshed.bound_cert_name, refreshed.port) == (7, "web", 443)
    assert store.resources.get_many(account.id, [first[0]])[0].port is None


def test_a_sync_rebinding_more_resources_than_one_write_transaction_takes_refreshes_them_all(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    specs = [
        ResourceSpec(product=Product.CDN, region="r", instance_id=f"cdn-{n}", domain=f"{n}.example.com")
        for n in range(1_201)
    ]
    ids = store.resources.upsert(account.id, specs)

    rebound = [ResourceSpec(**{**spec.__dict__, "bound_cert_id": 7, "bound_cert_name": "web"}) for spec in specs]

    assert store.resources.upsert(account.id, rebound) == ids
    stored = store.resources.get_many(account.id, ids)
    assert len(stored) == len(ids) and {(r.bound_cert_id, r.bound_cert_name) for r in stored} == {(7, "web")}


def test_resources_list_filters_and_gone_resources(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    specs = [
        ResourceSpec(product=Product.CDN, region="r", instance_id="cdn-1", domain="shop.example.com"),
        ResourceSpec(product=Product.OSS, region="r", instance_id="bucket-1", domain="img.example.com"),
        ResourceSpec(product=Product.CDN, region="r", instance_id="cdn-2", domain="other.net", https_enabled=False),
    ]
    ids = store.resources.upsert(account.id, specs)

    assert [r.id for r in store.resources.search(account.id, product=Product.CDN).items] == [ids[0], ids[2]]
    assert [r.id for r in store.resources.search(account.id, keyword="BUCKET").items] == [ids[1]]
    assert [r.id for r in store.resources.search(account.id, resource_ids=[ids[2], ids[1]]).items] == ids[1:]
    assert store.resources.search(account.id, page=2, page_size=2).items[0].id == ids[2]
    assert store.resources.set_gone(account.id, [ids[0]]) == 1
    assert store.resources.search(account.id).total == 2
    assert store.resources.search(account.id, include_gone=True).total == 3
    assert set(store.resources.live_ids(account.id)) == set(ids[1:])
    store.resources.upsert(account.id, specs[:1])
    assert store.resources.search(account.id).total == 3
    assert set(store.resources.live_ids(account.id)) == set(ids)
    assert list(store.resources.live_ids(store.accounts.create("other").id)) == []


def test_candidates_for_names_are_exact_names_and_one_label_under_a_wildcard(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    domains = ["example.com", "a.example.com", "a.b.example.com", "*.example.com", "a.example.org", "xexample.com"]
    ids = store.resources.upsert(
        account.id, [ResourceSpec(product=Product.CDN, region="r", instance_id=d, domain=d) for d in domains]
    )

    exact = store.resources.for_names(account.id, ["example.com", "a.example.org"])
    wildcard = store.resources.for_names(account.id, ["*.example.com"])

    assert [r.id for r in exact] == [ids[0], ids[4]]
    assert [r.domain for r in wildcard] == ["a.example.com", "*.example.com"]


@pytest.mark.parametrize("count", [100, 10_000])
def test_thousands_of_names_find_their_resources_without_one_expression_per_name(store: SqlStore, count: int) -> None:
    # A certificate may hold 10,000 names (README "Limits"); SQLite refuses an expression tree deeper than 1000.
    account, other = store.accounts.create("acme"), store.accounts.create("other")
    domains = ["a.zone7.example.com", "a.b.zone7.example.com", "zone9.example.com", "exact-5.example.net", "gone.net"]
    ids = store.resources.upsert(
        account.id, [ResourceSpec(product=Product.CDN, region="r", instance_id=d, domain=d) for d in domains]
    )
    store.resources.upsert(
        other.id, [ResourceSpec(product=Product.CDN, region="r", instance_id="o", domain=domains[0])]
    )
    store.resources.set_gone(account.id, [ids[4]])
    names = [*(f"*.zone{i}.example.com" for i in range(count)), *(f"exact-{i}.example.net" for i in range(count))]

    found = store.resources.for_names(account.id, [*names, "gone.net"])

    assert [r.id for r in found] == [ids[0], ids[3]]


def test_binding_a_certificate_to_a_resource(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    [resource_id] = store.resources.upsert(
        account.id, [ResourceSpec(product=Product.WAF, region="r", instance_id="waf", domain="a.com")]
    )

    bound = store.resources.set_binding(account.id, resource_id, 42, "web")

    assert (bound.bound_cert_id, bound.bound_cert_name) == (42, "web")
    assert store.resources.set_binding(account.id, resource_id, None, None).bound_cert_id is None


def test_one_certificate_bound_to_many_resources_at_once_binds_only_those(store: SqlStore) -> None:
    account, other = store.accounts.create("acme"), store.accounts.create("other")
    specs = [ResourceSpec(product=Product.CDN, region="r", instance_id=f"cdn{i}", domain=f"{i}.com") for i in range(4)]
    ids = store.resources.upsert(account.id, specs)
    [theirs] = store.resources.upsert(other.id, specs[:1])

    store.resources.bind_certificate(account.id, ids[:3], 42, "web")

    bound = {r.id: (r.bound_cert_id, r.bound_cert_name) for r in store.resources.get_many(account.id, ids)}
    assert bound == {ids[0]: (42, "web"), ids[1]: (42, "web"), ids[2]: (42, "web"), ids[3]: (None, None)}
    with pytest.raises(NotFound):
        store.resources.bind_certificate(account.id, [ids[3], theirs], 7, "other")
    # Nothing changed: the account's resource keeps what it served, the other account's is untouched.
    assert store.resources.get_many(account.id, [ids[3]])[0].bound_cert_id is None
    assert store.resources.get_many(other.id, [theirs])[0].bound_cert_id is None


@pytest.mark.parametrize("step", [1, 3], ids=["close-together", "spread-out"])
def test_thousands_of_resources_read_by_id_are_the_accounts_only(store: SqlStore, step: int) -> None:
    # GIVEN two accounts whose resources were created in turns, so their ids interleave
    acme, other = store.accounts.create("acme"), store.accounts.create("other")
    ours: list[int] = []
    theirs: list[int] = []
    for batch in range(4):
        specs = [
            ResourceSpec(product=Product.CDN, region="cn-hangzhou", instance_id=f"cdn-{batch}-{i}", domain="a.example")
            for i in range(400)
        ]
        ours += store.resources.upsert(acme.id, specs)
        theirs += store.resources.upsert(other.id, specs[:5])

    # WHEN one account asks for many of its ids (close together, or spread out) and some of the other's
    wanted = ours[::step]
    found = store.resources.get_many(acme.id, [*reversed(wanted), *theirs])

    # THEN it gets exactly its own, in id order; matching's read of them also leaves out those gone
    assert [r.id for r in found] == sorted(wanted)
    assert {r.account_id for r in found} == {acme.id}
    store.resources.set_gone(acme.id, wanted[:2])
    targets = store.resources.targets(acme.id, [*reversed(wanted), *theirs])
    assert [(t.id, t.account_id, t.product, t.domain) for t in targets] == [
        (r.id, acme.id, Product.CDN, "a.example") for r in found[2:]
    ]


def test_an_sae_resource_keeps_its_namespace_and_a_sync_refreshes_it(store: SqlStore) -> None:
    account = store.accounts.create("acme")
    sae = ResourceSpec(
        product=Product.SAE,
        region="cn-hangzhou",
        instance_id="1234",
        domain="app.example.com",
        namespace_id="cn-hangzhou:prod",
    )
    [resource_id] = store.resources.upsert(account.id, [sae])
    assert store.resources.get_many(account.id, [resource_id])[0].namespace_id == "cn-hangzhou:prod"

    store.resources.upsert(account.id, [ResourceSpec(**{**sae.__dict__, "namespace_id": "cn-hangzhou:staging"})])

    assert store.resources.get_many(account.id, [resource_id])[0].namespace_id == "cn-hangzhou:staging"


def test_a_resource_sync_is_claimed_once_per_interval_and_a_released_claim_is_due_again(store: SqlStore) -> None:
    account = store.accounts.create("acme").id
    other = store.accounts.create("other").id
    start = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=timezone.utc)
    later = start + timedelta(seconds=300)

    assert store.resources.claim_sync(account, start, due_before=start - timedelta(seconds=300))  # never synced
    assert not store.resources.claim_sync(
        account, start + timedelta(seconds=1), due_before=start - timedelta(seconds=1)
    )
    assert store.resources.claim_sync(other, start, due_before=start)  # each account has its own
    assert store.resources.claim_sync(account, later, due_before=start)

    store.resources.release_sync(account, later)  # that sync failed

    assert store.resources.claim_sync(account, later, due_before=later - timedelta(seconds=300))


def test_a_resource_sync_claimed_at_a_time_still_to_come_is_due_again(store: SqlStore) -> None:
    account = store.accounts.create("acme").id
    start = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=timezone.utc)
    store.resources.claim_sync(account, start, due_before=start)

    # The clock was set an hour back: the claim's time has not come yet, so no interval can be measured from it.
    back = start - timedelta(hours=1)
    assert store.resources.claim_sync(account, back, due_before=back - timedelta(seconds=300))
    assert not store.resources.claim_sync(account, back, due_before=back - timedelta(seconds=300))
