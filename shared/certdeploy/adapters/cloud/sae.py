"""SAE deployer: the certificate of a gateway routing rule (Ingress), through `alibabacloud-sae20190506` (ROA).

A resource is one Ingress: `instance_id` is its numeric IngressId (what DescribeIngress and UpdateIngress take; the
namespace CAS shows on SAE workers is not needed, the id is unique in the region), `region` its region.

How each call maps to SAE (SDK `DescribeIngressResponseBodyData`, `UpdateIngressRequest`; UpdateIngress API doc:
only `IngressId` is required):
- read: `DescribeIngress` (GET /pop/v1/sam/ingress/Ingress). An ALB-based Ingress lists its certificates in
  `CertIds` ("<CAS id>-cn-hangzhou", comma-separated, the first being the listener's default certificate); a CLB-based
  one has one `CertId`, an SLB certificate id.
- bind / restore: `UpdateIngress` (PUT) with `IngressId` and the certificate field alone, so rules, the default rule,
  listener port and protocol and every other setting stay as they are. On ALB the default (first) certificate is
  replaced and the additional ones are kept, as the ALB deployer does; on CLB the certificate is an SLB id, which a CAS
  certificate is not, so only restore (putting back the CertId read before) is possible there.
- Binding what is served already makes no write (see `cas_bound`). An Ingress whose listener is plain HTTP is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certdeploy.adapters.cloud.cas_bound import BoundState, CasBoundDeployer, describe, product_call
from certdeploy.adapters.cloud.common import is_transient_code, tea_config
from certdeploy.domain.deployment import PermanentDeployFailure, TransientDeployFailure
from certdeploy.domain.models import Resource

if TYPE_CHECKING:
    from alibabacloud_sae20190506.client import Client

ALB = "alb"
CLB = "clb"


@dataclass(frozen=True)
class IngressCertificates:
    """What UpdateIngress needs to change one certificate of an Ingress and nothing else."""

    ingress_id: int
    load_balance_type: str
    alb_cert_ids: tuple[str, ...] = ()


class SaeDeployer(CasBoundDeployer["Client", IngressCertificates]):
    """The `Deployer` of SAE gateway routing rules."""

    product_name = "SAE"

    def _client_for(self, region: str) -> Client:
        from alibabacloud_sae20190506.client import Client

        return Client(tea_config(self._credentials, region, self._target))

    def _read(self, resource: Resource) -> BoundState[IngressCertificates]:
        from alibabacloud_sae20190506 import models

        ingress_id = _ingress_id(resource)
        with product_call("SAE DescribeIngress"):
            body = self._client(resource).describe_ingress(models.DescribeIngressRequest(ingress_id=ingress_id)).body
        _check_success(body, "DescribeIngress")
        ingress = body.data
        if ingress is None:
            raise PermanentDeployFailure("InvalidIngress.NotFound", f"SAE Ingress {describe(resource)} does not exist.")
        if (ingress.listener_protocol or "").upper() == "HTTP":
            raise PermanentDeployFailure(
                "HttpsDisabled", f"SAE Ingress {describe(resource)} listens with HTTP: it serves no certificate."
            )
        load_balance_type = (ingress.load_balance_type or CLB).lower()
        if load_balance_type == ALB:
            cert_ids = tuple(part.strip() for part in (ingress.cert_ids or "").split(",") if part.strip())
            target = IngressCertificates(ingress_id, ALB, cert_ids)
            return BoundState(target=target, identifier=cert_ids[0] if cert_ids else None)
        return BoundState(target=IngressCertificates(ingress_id, CLB), identifier=ingress.cert_id or None)

    def _write(self, resource: Resource, state: BoundState[IngressCertificates], identifier: str) -> None:
        from alibabacloud_sae20190506 import models

        ingress = state.target
        if ingress.load_balance_type == ALB:
            additional = [cert_id for cert_id in ingress.alb_cert_ids[1:] if cert_id != identifier]
            request = models.UpdateIngressRequest(
                ingress_id=ingress.ingress_id, cert_ids=",".join([identifier, *additional])
            )
        elif _is_cas_identifier(identifier):
            raise PermanentDeployFailure(
                "CertificateNotSupported",
                f"SAE Ingress {describe(resource)} runs on CLB, whose certificate is an SLB certificate id; a CAS "
                f"certificate ({identifier}) cannot be bound to it.",
            )
        else:
            request = models.UpdateIngressRequest(ingress_id=ingress.ingress_id, cert_id=identifier)
        with product_call("SAE UpdateIngress"):
            body = self._client(resource).update_ingress(request).body
        _check_success(body, "UpdateIngress")


def _ingress_id(resource: Resource) -> int:
    if not resource.instance_id.isdigit():
        raise PermanentDeployFailure(
            "InvalidIngressId", f"SAE resource {describe(resource)} must name its Ingress by its numeric IngressId."
        )
    return int(resource.instance_id)


def _is_cas_identifier(identifier: str) -> bool:
    number, _, region = identifier.partition("-")
    return number.isdigit() and bool(region)


def _check_success(body: Any, action: str) -> None:
    """SAE answers some refusals with HTTP 200 and `Success: false` (its response bodies carry Success/ErrorCode)."""
    if body is not None and body.success is False:
        code = str(body.error_code or body.code or "UnknownError")
        message = str(body.message or f"SAE refused {action}.")
        raise (TransientDeployFailure if is_transient_code(code) else PermanentDeployFailure)(code, message)
