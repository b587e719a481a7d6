"""Every console page at 1280 and 375 px wide: a screenshot of each under tests/artifacts/ for review, and axe-core
(tests/browser/vendor/axe.min.js) finding no serious or critical accessibility violation on any of them. A task made
through the SDK gives the list and the details something to show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, Console
from tests.browser.test_console_flow import api_client, sign_in
from tests.certgen import make_cert
from tests.rpc_calls import raw_call

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = (1280, 375)
SERIOUS = ("serious", "critical")


def _submitted_task(console: Console) -> int:
    client = api_client(console)
    generated = make_cert(["*.example.com"], common_name="*.example.com")
    cert_id = raw_call(
        client, "UploadUserCertificate", {"Name": "pages-cert", "Cert": generated.cert_pem, "Key": generated.key_pem}
    )["CertId"]
    resources = raw_call(client, "ListCloudResources", {"ShowSize": 100})["Data"]
    job_id = raw_call(
        client,
        "CreateDeploymentJob",
        {
            "Name": "pages-task",
            "JobType": "user",
            "CertIds": cert_id,
            "ResourceIds": ",".join(str(r["Id"]) for r in resources),
        },
    )["JobId"]
    raw_call(client, "UpdateDeploymentJobStatus", {"JobId": job_id, "Status": "scheduling"})
    return int(job_id)


def _serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations.map(v => [v.impact, v.id, v.nodes.length])")
    return [f"{rule} on {nodes} node(s) ({impact})" for impact, rule, nodes in found if impact in SERIOUS]


@pytest.fixture(scope="module")
def task_id(console: Console) -> int:
    return _submitted_task(console)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_is_readable_and_accessible(
    console: Console, browser, artifacts: Path, task_id: int, width: int
) -> None:
    # bypass_csp lets the test inject axe-core inline; the console itself never loads it.
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=artifacts / f"{name}-{width}.png", full_page=True)
        problems[name] = _serious_violations(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            problems[name].append(f"the page scrolls sideways by {overflow} px")

    page.goto(console.url)
    page.get_by_label("AccessKey ID").wait_for()
    check("sign-in")
    sign_in(page, console)
    page.get_by_role("link", name="pages-task", exact=True).wait_for()
    check("task-list")
    page.goto(f"{console.url}#/jobs/{task_id}")
    page.locator(".live-hint[hidden]").wait_for(state="attached", timeout=45_000)
    check("details")
    page.get_by_role("tab", name="Timeline").click()
    page.get_by_role("tabpanel").get_by_role("row").nth(1).wait_for()
    check("details-timeline")
    page.goto(f"{console.url}#/jobs/new")
    page.get_by_label("Task name").fill("pages-wizard")
    check("wizard-1-basic")
    page.get_by_role("button", name="Next").click()
    page.get_by_label(re.compile("pages-cert")).check()
    check("wizard-2-certificates")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("checkbox", name=re.compile("Will get")).first.wait_for()
    check("wizard-3-resources")
    page.get_by_role("button", name="Next").click()
    page.locator(".quota-cost").wait_for()
    check("wizard-4-preview")
    for route, name in (("certificates", "certificates"), ("contacts", "contacts"), ("resources", "resources")):
        page.goto(f"{console.url}#/{route}")
        page.locator("main table, main .empty").first.wait_for()
        check(name)
    context.close()
    assert {name: found for name, found in problems.items() if found} == {}


def test_keyboard_alone_signs_in_and_reaches_a_page(console: Console, browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(console.url)
    page.get_by_label("AccessKey ID").wait_for()
    page.keyboard.type(ACCESS_KEY_ID)  # the first field has focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type(ACCESS_KEY_SECRET)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Deployment to Cloud Services").wait_for()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Contacts":
            break
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused link shows no focus outline"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Contacts", level=1).wait_for()
    context.close()
