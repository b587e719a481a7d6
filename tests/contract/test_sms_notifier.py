"""The SMS sender over the wire: the real Dysmsapi SDK against a Dysmsapi test server that fills the operator's
template, enforces a per-number frequency limit and refuses what Dysmsapi refuses, with its codes."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from certdeploy.adapters.cloud.common import CloudCredentials
from certdeploy.adapters.notify import (
    ContactNotifier,
    Delivery,
    RenderedNotification,
    deliveries_for,
    delivery_key,
    redact_address,
)
from certdeploy.adapters.notify.log import LogSender
from certdeploy.adapters.notify.render import render_notification
from certdeploy.adapters.notify.sms import SmsSender, SmsSettings
from certdeploy.bootstrap.container import _sms_sender
from certdeploy.bootstrap.settings import Settings
from certdeploy.domain.failures import NotificationFailed, Permanent, Transient
from certdeploy.domain.models import Contact, Product
from certdeploy.domain.notifications import (
    JobReport,
    NotificationEvent,
    ProductCount,
)
from certdeploy.domain.states import JobStatus
from certdeploy.ports.notifier import Channel
from tests.servers.openapi import OpenApiCall, OpenApiError, OpenApiServer, ProductCloud

SIGN = "certdeploy"
TEMPLATE = "SMS_468120001"
TEMPLATE_TEXT = (
    "certdeploy: job ${job} (No. ${job_no}) ${result}: ${succeeded} of ${total} resources done, ${failed} failed."
)
MOBILE = "13812345678"
REDACTED = "138****5678"
REPORT = JobReport(
    job_id=42,
    job_name="www rotation",
    event=NotificationEvent.JOB_FINISHED,
    outcome=JobStatus.ERROR,
    products=(
        ProductCount(product=Product.CDN, total=2, succeeded=2, failed=0),
        ProductCount(product=Product.ALB, total=3, succeeded=1, failed=2),
    ),
)
# Mainland numbers with an optional 86 / +86 / 0086 prefix, or a Hong Kong number (852 + 8 digits).
_DYSMS_NUMBER = re.compile(r"(?:\+86|0086|86)?1[3-9][0-9]{9}|852[0-9]{8}")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Sms:
    phone_number: str
    sign_name: str
    template_code: str
    text: str


class SmsCloud(ProductCloud):
    """Dysmsapi 2017-05-25 SendSms: answers HTTP 200 with `Code` OK or the refusal code, like the service."""

    def __init__(self, limit_per_number: int = 10) -> None:
        super().__init__(OpenApiServer(host_id="dysmsapi.aliyuncs.com", version="2017-05-25"))
        self.api.rpc("SendSms", self._send_sms)
        self.signs = {SIGN}
        self.templates = {TEMPLATE: TEMPLATE_TEXT}
        self.limit_per_number = limit_per_number
        self.echo_number_in_refusals = False
        self.delivered: list[Sms] = []

    def _refuse(self, code: str, message: str, number: str) -> dict[str, Any]:
        if self.echo_number_in_refusals:
            message = f"{message}: {number}"
        return {"Code": code, "Message": message}

    def _send_sms(self, call: OpenApiCall) -> dict[str, Any]:
        number = call.require("PhoneNumbers")
        sign = call.require("SignName")
        template_code = call.require("TemplateCode")
        if "," in number:
            raise OpenApiError("InvalidParameter", "this server takes one number per call")
        if sign not in self.signs:
            return self._refuse("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名", number)
        template = self.templates.get(template_code)
        if template is None:
            return self._refuse("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板", number)
        if _DYSMS_NUMBER.fullmatch(number) is None:
            return self._refuse("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", number)
        try:
            values = json.loads(call.get("TemplateParam") or "{}")
        except ValueError:
            return self._refuse("isv.INVALID_JSON_PARAM", "JSON参数不合法", number)
        if not isinstance(values, dict) or not all(isinstance(value, str) for value in values.values()):
            return self._refuse("isv.INVALID_JSON_PARAM", "JSON参数不合法,只接受字符串值", number)
        missing = [name for name in _VARIABLE.findall(template) if name not in values]
        if missing:
            return self._refuse("isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量 {','.join(missing)}", number)
        if sum(1 for sms in self.delivered if sms.phone_number == number) >= self.limit_per_number:
            return self._refuse("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", number)
        text = _VARIABLE.sub(lambda match: values[match.group(1)], template)
        self.delivered.append(Sms(number, sign, template_code, text))
        return {"Code": "OK", "Message": "OK", "BizId": f"9006{len(self.delivered):06d}^0"}


@pytest.fixture
def cloud() -> Iterator[SmsCloud]:
    cloud = SmsCloud()
    yield from cloud.serving()


def sender_for(cloud: SmsCloud, template_code: str = TEMPLATE) -> SmsSender:
    return SmsSender(
        cloud.api.credentials(), SmsSettings(sign_name=SIGN, template_code=template_code), cloud.api.target()
    )


def rendered(report: JobReport = REPORT) -> RenderedNotification:
    return render_notification(report)


def test_a_report_arrives_as_the_operators_template_filled_in(cloud: SmsCloud) -> None:
    # WHEN a failed job's report is sent to a mainland mobile
    sender_for(cloud).send(MOBILE, rendered())
    # THEN the contact receives the approved template, with the signature, filled from the report
    assert cloud.delivered == [
        Sms(MOBILE, SIGN, TEMPLATE, "certdeploy: job www rotation (No. 42) failed: 3 of 5 resources done, 2 failed.")
    ]
    # AND it went out as one signed SendSms call (ACS3, the SDK default) with the variables as JSON strings
    [call] = cloud.api.calls_of("SendSms")
    assert call.signature_method == "ACS3-HMAC-SHA256"
    assert json.loads(call.parameters["TemplateParam"]) == {
        "job": "www rotation",
        "job_no": "42",
        "result": "failed",
        "total": "5",
        "succeeded": "3",
        "failed": "2",
    }


def test_an_international_style_number_is_sent_without_its_plus(cloud: SmsCloud) -> None:
    sender_for(cloud).send("+8613812345678", rendered())
    assert [sms.phone_number for sms in cloud.delivered] == ["8613812345678"]


def test_a_rollback_and_a_long_job_name_fit_the_short_variables(cloud: SmsCloud) -> None:
    report = JobReport(
        job_id=9,
        job_name="rotate every certificate of the shop",
        event=NotificationEvent.ROLLBACK_FINISHED,
        outcome=JobStatus.ROLLED_BACK,
        products=(ProductCount(product=Product.CDN, total=1, succeeded=1, failed=0),),
    )
    sender_for(cloud).send(MOBILE, rendered(report))
    [sms] = cloud.delivered
    assert sms.text == "certdeploy: job rotate every certif… (No. 9) rolled back: 1 of 1 resources done, 0 failed."


def test_the_sms_frequency_limit_is_transient_and_a_later_retry_goes_through(cloud: SmsCloud) -> None:
    # GIVEN a number that already got as many messages as Dysmsapi allows for now
    cloud.limit_per_number = 1
    sender = sender_for(cloud)
    sender.send(MOBILE, rendered())
    # WHEN another report is sent
    with pytest.raises(NotificationFailed) as refused:
        sender.send(MOBILE, rendered())
    # THEN the failure says so and asks for a retry
    assert isinstance(refused.value, Transient)
    assert "isv.BUSINESS_LIMIT_CONTROL" in refused.value.message
    # AND once the limit has passed, the retry is delivered
    cloud.limit_per_number = 2
    sender.send(MOBILE, rendered())
    assert len(cloud.delivered) == 2


def test_gateway_flow_control_is_transient(cloud: SmsCloud) -> None:
    cloud.api.fail_next("SendSms", code="Throttling.User")
    with pytest.raises(NotificationFailed) as throttled:
        sender_for(cloud).send(MOBILE, rendered())
    assert isinstance(throttled.value, Transient)
    assert "Throttling.User" in throttled.value.message
    assert cloud.delivered == []


def test_an_illegal_number_is_permanent_with_dysmsapis_code(cloud: SmsCloud) -> None:
    # GIVEN a contact mobile Dysmsapi does not accept (the contact rules allow 5 to 15 digits)
    with pytest.raises(NotificationFailed) as refused:
        sender_for(cloud).send("12345", rendered())
    assert isinstance(refused.value, Permanent)
    assert refused.value.message == "SMS to ***45 refused: isv.MOBILE_NUMBER_ILLEGAL 非法手机号"
    assert cloud.delivered == []


def test_a_template_expecting_other_variables_is_permanent(cloud: SmsCloud) -> None:
    cloud.templates["SMS_468120002"] = "certdeploy: ${job} on ${domain} ${result}."
    with pytest.raises(NotificationFailed) as refused:
        sender_for(cloud, "SMS_468120002").send(MOBILE, rendered())
    assert isinstance(refused.value, Permanent)
    assert "isv.TEMPLATE_MISSING_PARAMETERS" in refused.value.message


def test_rejected_credentials_are_permanent(cloud: SmsCloud) -> None:
    wrong = CloudCredentials(access_key_id="LTAI-someone-else", access_key_secret=SecretStr("nope"))
    sender = SmsSender(wrong, SmsSettings(sign_name=SIGN, template_code=TEMPLATE), cloud.api.target())
    with pytest.raises(NotificationFailed) as refused:
        sender.send(MOBILE, rendered())
    assert isinstance(refused.value, Permanent)
    assert "InvalidAccessKeyId.NotFound" in refused.value.message


def test_an_unreachable_service_is_transient(cloud: SmsCloud) -> None:
    target = cloud.api.target()
    cloud.api.stop()
    sender = SmsSender(cloud.api.credentials(), SmsSettings(sign_name=SIGN, template_code=TEMPLATE), target)
    with pytest.raises(NotificationFailed) as unreachable:
        sender.send(MOBILE, rendered())
    assert isinstance(unreachable.value, Transient)
    assert MOBILE not in unreachable.value.message


def test_a_list_of_numbers_is_refused_before_any_call(cloud: SmsCloud) -> None:
    with pytest.raises(NotificationFailed) as refused:
        sender_for(cloud).send(f"{MOBILE},13900001111", rendered())
    assert isinstance(refused.value, Permanent)
    assert cloud.api.calls == []


def test_a_contact_with_a_mobile_gets_an_sms_delivery_after_its_other_addresses() -> None:
    contact = Contact(id=3, account_id=1, name="ops", email="ops@example.com", mobile=f" {MOBILE} ")
    assert [(d.channel, d.address) for d in deliveries_for(contact)] == [
        (Channel.EMAIL, "ops@example.com"),
        (Channel.SMS, MOBILE),
    ]
    assert [d.channel for d in deliveries_for(contact.model_copy(update={"mobile": None}))] == [Channel.EMAIL]
    key = delivery_key(REPORT, Delivery(3, Channel.SMS, MOBILE))
    assert key.startswith("42:job_finished:3:sms:") and MOBILE not in key


def test_the_mobile_is_redacted_in_results_and_logs(cloud: SmsCloud, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a refusal whose message repeats the number
    cloud.echo_number_in_refusals = True
    contact = Contact(id=3, account_id=1, name="ops", mobile="+86" + MOBILE)
    notifier = ContactNotifier({Channel.SMS: sender_for(cloud, "SMS_UNKNOWN")})
    # WHEN the contact is notified (at INFO, the level the runtime logs at; urllib3's DEBUG lines show request URLs)
    with caplog.at_level(logging.INFO):
        [result] = notifier.notify(contact, REPORT)
    # THEN the result says what failed without the number
    assert (result.channel, isinstance(result.failure, Permanent)) == (Channel.SMS, True)
    assert "isv.SMS_TEMPLATE_ILLEGAL" in str(result.failure)
    assert result.label == "+86*******5678"
    for text in (str(result.failure), result.label, repr(deliveries_for(contact)), caplog.text):
        assert MOBILE not in text
    # AND the logging sender (SMS not configured) shows only the redacted number
    with caplog.at_level(logging.INFO):
        LogSender(Channel.SMS).send(MOBILE, rendered())
    assert REDACTED in caplog.text and MOBILE not in caplog.text
    assert redact_address(Channel.SMS, MOBILE) == REDACTED


def test_sms_is_sent_only_with_a_signature_a_template_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    configured = Settings(sms_sign_name=SIGN, sms_template_code=TEMPLATE)
    role = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="STS.id", access_key_secret="secret", security_token="token")
    )
    assert isinstance(_sms_sender(configured, role), SmsSender)
    # Not configured, or configured without credentials: SMS is logged like unsent email
    assert isinstance(_sms_sender(Settings(), role), LogSender)
    assert isinstance(_sms_sender(configured, SimpleNamespace()), LogSender)
    # Half a configuration is an error, not a silent fallback
    with pytest.raises(RuntimeError, match="SMS_TEMPLATE_CODE"):
        _sms_sender(Settings(sms_sign_name=SIGN), role)
