"""The console's whole round in Chromium, as a user clicks it: sign in (a wrong secret first, shown with its CAS
code), upload a certificate, add a contact, create a task through the wizard at a custom time, watch it finish with
the demo inventory's failing NLB listener and each deployed resource's verification, roll back one resource, read
the timeline, batch-delete, switch to Chinese. Each step asserts what the page shows; the ScheduleTime the API got
is read back through the SDK."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config

from tests.browser.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, QUOTA, Console
from tests.certgen import make_cert
from tests.rpc_calls import raw_call

pytestmark = pytest.mark.slow

CERT_NAME = "www-example-console"
TASK_NAME = "console-task"
# The demo inventory: what a certificate for *.example.com and www.example.com matches, and what it leaves out.
MATCHED = 9
LEFT_OUT = {"static.example.com": "HTTPS is disabled", "shop.example.org": "", "a.b.example.com": ""}
FAILING_CAUSE = "the listener is locked by a change window"
TIMEOUT_MS = 20_000


def api_client(console: Console) -> CasClient:
    """The SDK as a second client, to read back what the console sent."""
    return CasClient(
        Config(
            endpoint=f"127.0.0.1:{console.server.port}",
            protocol="http",
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=ACCESS_KEY_SECRET,
        )
    )


def sign_in(page, console: Console, secret: str = ACCESS_KEY_SECRET) -> None:
    page.goto(console.url)
    page.get_by_label("AccessKey ID").fill(ACCESS_KEY_ID)
    page.get_by_label("AccessKey secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def _keep_policy_violation(text: str, found: list[str]) -> None:
    if "Content Security Policy" in text:
        found.append(text)


def nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def test_the_console_round(console: Console, browser, artifacts) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    # Anything the Content-Security-Policy blocks is logged as a console error naming the policy.
    page.on("console", lambda message: _keep_policy_violation(message.text, page_errors))

    # Sign-in: a wrong secret is refused with the API's own code; the right one opens the task list.
    sign_in(page, console, secret="not-the-secret")
    page.get_by_role("alert").filter(has_text="SignatureDoesNotMatch").wait_for()
    sign_in(page, console)
    page.get_by_role("heading", name="Deployment to Cloud Services").wait_for()
    # Nothing of the key is kept in web storage: only the language choice is.
    stored = page.evaluate("[...Object.keys(sessionStorage), ...Object.keys(localStorage)]")
    assert stored == ["certdeploy.language"]

    # Upload a certificate by pasting its PEM.
    generated = make_cert(["*.example.com", "www.example.com"], common_name="*.example.com")
    nav(page, "Certificates")
    page.get_by_label("Certificate name").fill(CERT_NAME)
    page.get_by_label("Certificate (PEM)", exact=True).fill(generated.cert_pem)
    page.get_by_label("Private key (PEM)", exact=True).fill(generated.key_pem)
    page.get_by_role("button", name="Upload certificate").click()
    page.get_by_role("status").filter(has_text=f"Uploaded certificate {CERT_NAME}.").wait_for()
    page.get_by_role("cell", name=CERT_NAME, exact=True).wait_for()

    # Add a contact with a webhook.
    nav(page, "Contacts")
    page.get_by_label("Name", exact=True).fill("Ops on call")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Mobile").fill("13800000000")
    page.get_by_label(re.compile("Webhooks")).fill("https://oapi.dingtalk.com/robot/send?access_token=abc")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("cell", name="ops@example.com", exact=True).wait_for()

    # The wizard: basic information with a custom time a few seconds ahead (the browser's time zone).
    nav(page, "Deployment to Cloud Services")
    page.get_by_role("link", name="Create Task").click()
    page.get_by_label("Task name").fill(TASK_NAME)
    page.get_by_label(re.compile("Ops on call")).check()
    page.get_by_label("Custom time").check()
    scheduled = (datetime.now() + timedelta(seconds=5)).replace(microsecond=0)
    page.get_by_label("Date and time").fill(scheduled.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Next").click()
    page.get_by_label(re.compile(CERT_NAME)).check()
    page.get_by_role("button", name="Next").click()

    # Select resources: the matched ones checked, each left-out one with the server's reason.
    page.get_by_role("checkbox", name=re.compile("Will get")).first.wait_for()
    assert page.get_by_role("checkbox", name=re.compile("Will get")).count() == MATCHED
    for domain, reason in LEFT_OUT.items():
        assert reason in page.locator(".unmatched", has_text=domain).inner_text()
    page.get_by_role("button", name="Next").click()

    # Task Preview: the quota it consumes and what is left.
    page.locator(".quota-cost").filter(has_text=str(MATCHED)).wait_for()
    assert page.locator(".quota-left").inner_text() == str(QUOTA - MATCHED)
    # The ALB listener serves legacy-www now and will get the uploaded certificate.
    change = page.get_by_role("row").filter(has_text="ALB").filter(has_text="legacy-www")
    assert CERT_NAME in change.inner_text()
    page.screenshot(path=artifacts / "readme-wizard-preview.png", full_page=True)
    page.get_by_role("button", name="Submit").click()

    # Details: live until done, the NLB listener failed with its cause.
    page.get_by_role("heading", name=re.compile(f"Task details: {TASK_NAME}")).wait_for()
    page.get_by_role("tab", name=re.compile("^NLB")).click()
    page.get_by_role("tabpanel").filter(has_text=FAILING_CAUSE).wait_for(timeout=45_000)
    # The polls that brought the failure in rebuilt the tabs, and the focused tab kept the focus.
    assert page.evaluate("document.activeElement.dataset.key") == "NLB"
    page.get_by_role("tab", name=re.compile("^All")).click()
    page.locator(".live-hint[hidden]").wait_for(state="attached", timeout=45_000)
    # Each deployed resource was checked over TLS: the MSE gateway serves the uploaded certificate.
    gateway = page.get_by_role("tabpanel").get_by_role("row").filter(has_text="gateway.example.com")
    assert gateway.locator(".verify-verified").inner_text() == "Verified"
    job = raw_call(api_client(console), "ListDeploymentJob", {})["Data"][0]
    assert job["Name"] == TASK_NAME
    assert int(job["ScheduleTime"]) == int(scheduled.timestamp() * 1000)

    # Roll back the ALB listener, which had the certificate legacy-www before.
    page.get_by_role("button", name="Roll Back: www.example.com").first.click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    page.get_by_role("tabpanel").locator(".status-rollback_success").first.wait_for(timeout=45_000)
    page.screenshot(path=artifacts / "readme-details.png", full_page=True)

    # The timeline: the job's events, each failure with its cause.
    page.get_by_role("tab", name="Timeline").click()
    failure = page.get_by_role("tabpanel").get_by_role("row").filter(has_text="Resource failed")
    assert FAILING_CAUSE in failure.first.inner_text()

    # The list, then a batch delete of this task and a draft made through the SDK.
    raw_call(
        api_client(console),
        "CreateDeploymentJob",
        {
            "Name": "draft-from-sdk",
            "JobType": "user",
            "CertIds": job["Certificates"][0]["CertId"],
            "ResourceIds": "1",
        },
    )
    nav(page, "Deployment to Cloud Services")
    page.get_by_role("link", name="draft-from-sdk", exact=True).wait_for()
    page.screenshot(path=artifacts / "readme-task-list.png", full_page=True)
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    dialog = page.get_by_role("dialog")
    assert dialog.inner_text().startswith("Delete 2 task(s)? This cannot be undone.")
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("Nothing to show.").wait_for()
    assert raw_call(api_client(console), "ListDeploymentJob", {})["Total"] == 0

    # Chinese: the navigation, headings and the document language switch.
    page.get_by_role("button", name="Switch language").click()
    page.get_by_role("heading", name="部署到云产品").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.get_by_role("button", name="切换语言").click()
    page.get_by_role("heading", name="Deployment to Cloud Services").wait_for()

    # Sign out forgets the key: the sign-in form again, and no page error along the way.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("AccessKey secret").wait_for()
    assert page_errors == []
    context.close()


def test_a_pasted_private_key_or_bot_webhook_is_kept_by_no_form_history(console: Console, browser) -> None:
    # A browser restores (and writes to its session file) what a form held unless the field opts out; the AccessKey
    # secret is a password field, which no browser restores, and neither a private key nor a bot URL (its token is
    # the bot's credential) may be restored either.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, console)
    page.get_by_role("link", name="Certificates").click()

    key = page.get_by_label("Private key (PEM)", exact=True).get_attribute("autocomplete")
    page.get_by_role("link", name="Contacts").click()
    webhooks = page.get_by_label("Webhooks (DingTalk, WeCom, Lark), one URL a line").get_attribute("autocomplete")

    assert (key, webhooks) == ("off", "off")
    context.close()
