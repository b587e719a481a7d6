"""DCDN deployer (`alibabacloud-dcdn20180115`): CDN's domain-certificate logic (see `cdn.py`) with DCDN's actions.

- `DescribeDcdnDomainCertificateInfo` (`CertId`, `CertName`, `CertType`, `CertRegion`, `SSLProtocol` on/off, `SSLPub`)
  and `DescribeDcdnSMCertificateList` read; `SetDcdnDomainSSLCertificate` (CertType cas + CertId + CertRegion, or
  upload + SSLPub/SSLPri; SSLProtocol) and `SetDcdnDomainSMCertificate` (CertIdentifier, SSLProtocol) write.
  Sources: the SDK's request/response models of those actions; help.aliyun.com/zh/dcdn/developer-reference/
  api-dcdn-2018-01-15-describedcdndomaincertificateinfo and …-describedcdnsmcertificatelist.
"""

from __future__ import annotations

from typing import Any

from certdeploy.adapters.cloud.cdn import (
    DomainCertificateDeployer,
    DomainCertificates,
    parse_cert_id,
    ssl_request_fields,
)
from certdeploy.adapters.cloud.common import tea_config
from certdeploy.domain.models import Product


class DcdnDeployer(DomainCertificateDeployer):
    product = Product.DCDN

    def _new_client(self, region: str) -> Any:
        from alibabacloud_dcdn20180115.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, client: Any, domain: str) -> DomainCertificates:
        from alibabacloud_dcdn20180115 import models

        info = client.describe_dcdn_domain_certificate_info(
            models.DescribeDcdnDomainCertificateInfoRequest(domain_name=domain)
        )
        infos = info.body.cert_infos.cert_info if info.body.cert_infos else []
        sm = client.describe_dcdn_smcertificate_list(models.DescribeDcdnSMCertificateListRequest(domain_name=domain))
        model = sm.body.certificate_list_model
        certs = model.cert_list if model and model.cert_list else []
        identifiers = tuple(sorted(cert.cert_identifier for cert in certs if cert.cert_identifier))
        if not infos:
            return DomainCertificates(https_enabled=False, sm_identifiers=identifiers)
        cert = infos[0]
        return DomainCertificates(
            https_enabled=cert.sslprotocol == "on",
            cas_cert_id=parse_cert_id(cert.cert_id),
            cert_name=cert.cert_name or None,
            cert_type=cert.cert_type or None,
            cert_region=cert.cert_region or None,
            certificate_pem=cert.sslpub or None,
            sm_identifiers=identifiers,
        )

    def _set_ssl(self, client: Any, domain: str, fields: dict[str, str]) -> None:
        from alibabacloud_dcdn20180115 import models

        client.set_dcdn_domain_sslcertificate(
            models.SetDcdnDomainSSLCertificateRequest(domain_name=domain, **ssl_request_fields(fields))
        )

    def _set_sm(self, client: Any, domain: str, identifier: str, enabled: bool) -> None:
        from alibabacloud_dcdn20180115 import models

        client.set_dcdn_domain_smcertificate(
            models.SetDcdnDomainSMCertificateRequest(
                domain_name=domain, cert_identifier=identifier, sslprotocol="on" if enabled else "off"
            )
        )
