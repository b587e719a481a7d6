"""SMS through Alibaba Cloud Short Message Service (Dysmsapi 2017-05-25 `SendSms`, `alibabacloud-dysmsapi20170525`).

SMS carries no free text: the operator registers a signature and a notification template in the SMS console and
configures both; each message fills the template's variables from `RenderedNotification.sms_parameters` (see
`certdeploy.adapters.notify.render.render_sms_parameters` for the names). One `SendSms` call per mobile number.

`SendSms` (https://help.aliyun.com/document_detail/55284.html): PhoneNumbers, SignName, TemplateCode and TemplateParam
(a JSON object of strings); the caller needs `dysms:SendSms`. The reply is HTTP 200 with `Code` = `OK` when the
message was accepted, otherwise HTTP 200 with the refusal in `Code`/`Message`
(https://help.aliyun.com/document_detail/101346.html, the code table the SDK's SendSmsResponseBody points to):
- `isv.BUSINESS_LIMIT_CONTROL` ("触发业务流控": the per-number frequency limit, https://developer.aliyun.com/ask/652244)
  and `isp.SYSTEM_ERROR` (the platform's own failure) are transient: the same message can go through later;
- every other code (`isv.MOBILE_NUMBER_ILLEGAL`, `isv.TEMPLATE_MISSING_PARAMETERS`, `isv.SMS_TEMPLATE_ILLEGAL`,
  `isv.DAY_LIMIT_CONTROL`, `isv.OUT_OF_SERVICE`, `isp.RAM_PERMISSION_DENY`, …) needs the operator to change something
  and is permanent.
Gateway errors (HTTP 4xx/5xx: flow control `Throttling.*`, signature, permission) and network failures are classified
as the cloud deployers classify them (`common.classify_sdk_error`).

SendSms is not idempotent (same page): the SDK is left at its default of one attempt, and a retry only happens when
the notify use case sees a transient failure. A timeout counts as transient, so a message whose reply was lost can
arrive twice; for a job report that beats never arriving.

The full mobile number never appears in a failure message or a log line: it is replaced by its redacted form.
"""

from __future__ import annotations

import json
import re
from threading import Lock
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, classify_sdk_error, tea_config
from certdeploy.adapters.notify import RenderedNotification, redact_mobile
from certdeploy.domain.failures import PermanentNotificationFailure, Transient, TransientNotificationFailure

SMS_REGION = "cn-hangzhou"
SENT = "OK"
# Refusals that may pass on a later attempt; any other code is permanent (see the module doc for sources).
TRANSIENT_SMS_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR"})
# What contacts accept (app/contacts.py); anything else, a comma-separated list above all, is never sent.
_MOBILE = re.compile(r"\+?[0-9]{5,15}")


class SmsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    sign_name: str = Field(min_length=1, description="an approved SMS signature (SignName)")
    template_code: str = Field(min_length=1, description="an approved notification template (TemplateCode, SMS_…)")
    region: str = Field(SMS_REGION, description="the region whose Dysmsapi endpoint the SDK calls")


def phone_number(address: str) -> str:
    """The PhoneNumbers value for a contact's mobile: without a leading `+`. SendSms takes mainland numbers with or
    without a 86/+86/0086 prefix and others as country code followed by the number, no `+` (SendSms, PhoneNumbers)."""
    number = address.strip()
    if _MOBILE.fullmatch(number) is None:
        raise PermanentNotificationFailure(f"not a mobile number: {redact_mobile(number)}")
    return number.removeprefix("+")


class SmsSender:
    """Sends the configured template to one mobile number per call; the SDK client is built on first use."""

    def __init__(self, credentials: CloudCredentials, settings: SmsSettings, target: ApiTarget | None = None) -> None:
        self._credentials = credentials
        self._settings = settings
        self._target = target or ApiTarget()
        self._client: Any = None
        self._lock = Lock()

    def send(self, address: str, message: RenderedNotification) -> None:
        number = phone_number(address)
        try:
            body = self._send(number, message)
        except Exception as error:
            failure = classify_sdk_error(error)
            if failure is None:
                raise
            text = f"SMS to {redact_mobile(number)} failed: {failure.code} {failure.message}"
            kind = TransientNotificationFailure if isinstance(failure, Transient) else PermanentNotificationFailure
            raise kind(_scrub(text, address, number)) from None
        code = str(getattr(body, "code", None) or "")
        if code != SENT:
            reason = getattr(body, "message", None) or ""
            text = f"SMS to {redact_mobile(number)} refused: {code or 'no Code'} {reason}".rstrip()
            kind = TransientNotificationFailure if code in TRANSIENT_SMS_CODES else PermanentNotificationFailure
            raise kind(_scrub(text, address, number))

    def _send(self, number: str, message: RenderedNotification) -> Any:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest

        request = SendSmsRequest(
            phone_numbers=number,
            sign_name=self._settings.sign_name,
            template_code=self._settings.template_code,
            template_param=json.dumps(message.sms_parameters, ensure_ascii=False),
        )
        return self._sdk().send_sms(request).body

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                from alibabacloud_dysmsapi20170525.client import Client

                self._client = Client(tea_config(self._credentials, self._settings.region, self._target))
            return self._client


def _scrub(text: str, *numbers: str) -> str:
    """Replace any echo of the number (as given or as sent) by its redacted form."""
    for number in sorted({n.strip() for n in numbers if n.strip()}, key=len, reverse=True):
        text = text.replace(number, redact_mobile(number))
    return text
