"""Cloud deployers: one per product, each on the product's official SDK, behind the `Deployers` port.

`CloudDeployers(credentials, targets={Product.CDN: ApiTarget(...)})` builds a product's deployer the first time
`for_product` asks for it, from `DEPLOYER_FACTORIES`: "module:attribute" paths of `DeployerFactory` callables
(`(CloudCredentials, ApiTarget) -> Deployer`, usually the deployer class itself). Paths, not imports, so that asking
for one product loads only that product's module and SDK. Each product adds its one line to the table.
`options={Product.APIGATEWAY: {"replace_mutual_tls": True}}` gives a product's factory keyword arguments from
settings.

A product without a line gets `PermanentDeployFailure("UnsupportedProduct", …)`, so its workers end in `error` with a
cause the user can read instead of crashing the function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from threading import Lock
from typing import Any

from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.models import Product
from certdeploy.ports.cloud import Deployer

DEPLOYER_FACTORIES: Mapping[Product, str] = {
    Product.CDN: "certdeploy.adapters.cloud.cdn:CdnDeployer",
    Product.DCDN: "certdeploy.adapters.cloud.dcdn:DcdnDeployer",
    Product.DDOS: "certdeploy.adapters.cloud.ddos:DdosDeployer",
    Product.WAF: "certdeploy.adapters.cloud.waf:WafDeployer",
    Product.ALB: "certdeploy.adapters.cloud.alb:AlbDeployer",
    Product.NLB: "certdeploy.adapters.cloud.nlb:NlbDeployer",
    Product.GA: "certdeploy.adapters.cloud.ga:GaDeployer",
    Product.APIGATEWAY: "certdeploy.adapters.cloud.apigateway:ApiGatewayDeployer",
    Product.MSE: "certdeploy.adapters.cloud.mse:MseDeployer",
    Product.FC: "certdeploy.adapters.cloud.fc:FcDeployer",
    Product.OSS: "certdeploy.adapters.cloud.oss:OssDeployer",
    Product.SAE: "certdeploy.adapters.cloud.sae:SaeDeployer",
}


class CloudDeployers:
    """The `Deployers` port on the real cloud: one deployer per product, built lazily and then reused."""

    def __init__(
        self,
        credentials: CloudCredentials,
        targets: Mapping[Product, ApiTarget] | None = None,
        factories: Mapping[Product, str] = DEPLOYER_FACTORIES,
        *,
        options: Mapping[Product, Mapping[str, Any]] | None = None,
    ) -> None:
        self._credentials = credentials
        self._targets = dict(targets or {})
        self._factories = factories
        self._options = dict(options or {})
        self._deployers: dict[Product, Deployer] = {}
        self._lock = Lock()

    def for_product(self, product: Product) -> Deployer:
        with self._lock:
            deployer = self._deployers.get(product)
            if deployer is None:
                factory = _load_factory(product, self._factories)
                target = self._targets.get(product, ApiTarget())
                deployer = factory(self._credentials, target, **self._options.get(product, {}))
                self._deployers[product] = deployer
            return deployer


def _load_factory(product: Product, factories: Mapping[Product, str]) -> Callable[..., Deployer]:
    """The product's `DeployerFactory`; it also takes the product's `options` as keyword arguments."""
    path = factories.get(product)
    if path is None:
        raise PermanentDeployFailure(
            "UnsupportedProduct", f"certdeploy has no cloud deployer for {product}: its resources cannot be deployed."
        )
    module_name, _, attribute = path.partition(":")
    factory: Callable[..., Deployer] = getattr(import_module(module_name), attribute)
    return factory


__all__ = ["DEPLOYER_FACTORIES", "ApiTarget", "CloudCredentials", "CloudDeployers"]
