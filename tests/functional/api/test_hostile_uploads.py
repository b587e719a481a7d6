"""Issue 10 items 1 and 2 through the official SDK: hostile certificate uploads are refused as the caller's mistake
(HTTP 400, CAS `InvalidParameter.<Field>`), and refused from their form or size."""

from __future__ import annotations

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from tests.certgen import make_cert
from tests.hostile_inputs import huge_modulus, huge_rsa_key_pem, repeated_begin_lines, rsa_certificate_with_modulus
from tests.rpc_calls import refused

SITE = make_cert(["www.example.com"], common_name="www.example.com", key="rsa")


@pytest.mark.parametrize(
    ("cert", "key", "code", "message"),
    [
        (repeated_begin_lines(144_000), SITE.key_pem, "InvalidParameter.Cert", "line 2"),
        (SITE.cert_pem, repeated_begin_lines(144_000), "InvalidParameter.Key", "line 2"),
        (SITE.cert_pem, huge_rsa_key_pem(huge_modulus(16384)), "InvalidParameter.Key", "16384-bit RSA key"),
        (rsa_certificate_with_modulus(huge_modulus(16384)), SITE.key_pem, "InvalidParameter.Cert", "16384-bit"),
    ],
    ids=["begin-lines-cert", "begin-lines-key", "rsa-16384-key", "rsa-16384-cert"],
)
def test_hostile_uploads_are_refused_as_invalid_parameters(
    client: CasClient, cert: str, key: str, code: str, message: str
) -> None:
    request = cas.UploadUserCertificateRequest(name="hostile", cert=cert, key=key)

    error = refused(lambda: client.upload_user_certificate(request))

    assert (error.code, error.status_code) == (code, 400)
    assert message in error.message
