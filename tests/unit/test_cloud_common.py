"""Cloud adapter plumbing that needs no network: credentials, the deployer registry."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from certdeploy.adapters.cloud import CloudDeployers
from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials, classify_sdk_error
from certdeploy.domain.deployment import PermanentDeployFailure
from certdeploy.domain.models import Product

ENVIRONMENT = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.id",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t-value",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "t0ken-value",
}


def test_credentials_come_from_the_environment_with_the_sts_token_kept_secret() -> None:
    credentials = CloudCredentials.from_environment(ENVIRONMENT)

    assert credentials.access_key_id == "STS.id"
    assert credentials.security_token is not None and credentials.security_token.get_secret_value() == "t0ken-value"
    assert "s3cr3t-value" not in repr(credentials) and "t0ken-value" not in repr(credentials)


def test_missing_credentials_say_which_variables_to_set() -> None:
    with pytest.raises(ValueError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        CloudCredentials.from_environment({})


def test_fc_context_credentials_win_over_the_environment() -> None:
    context = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="ctx-id", access_key_secret="ctx-secret", security_token=None)
    )

    credentials = CloudCredentials.from_fc_context(context, ENVIRONMENT)

    assert (credentials.access_key_id, credentials.security_token) == ("ctx-id", None)


def test_a_python312_context_without_credentials_falls_back_to_the_environment() -> None:
    assert CloudCredentials.from_fc_context(SimpleNamespace(), ENVIRONMENT).access_key_id == "STS.id"


def test_registry_builds_each_deployer_once() -> None:
    credentials = CloudCredentials(access_key_id="id", access_key_secret="secret")
    deployers = CloudDeployers(credentials, {Product.CDN: ApiTarget(endpoint="127.0.0.1:1", protocol="http")})

    first = deployers.for_product(Product.CDN)

    assert first is deployers.for_product(Product.CDN)
    assert type(first).__name__ == "CdnDeployer"


def test_building_deployers_loads_no_sdk_until_a_call_needs_one() -> None:
    script = (
        "import sys\n"
        "from certdeploy.adapters.cloud import CloudDeployers, DEPLOYER_FACTORIES\n"
        "from certdeploy.adapters.cloud.common import CloudCredentials\n"
        "deployers = CloudDeployers(CloudCredentials(access_key_id='i', access_key_secret='s'))\n"
        "for product in DEPLOYER_FACTORIES: deployers.for_product(product)\n"
        "print(sorted(name for name in sys.modules if name.startswith(('alibabacloud', 'Tea', 'darabonba'))))\n"
    )

    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"


def test_a_product_without_deployer_is_a_permanent_failure_naming_it() -> None:
    deployers = CloudDeployers(CloudCredentials(access_key_id="id", access_key_secret="s"), factories={})

    with pytest.raises(PermanentDeployFailure) as failure:
        deployers.for_product(Product.OSS)

    assert failure.value.code == "UnsupportedProduct"
    assert "OSS" in failure.value.message


def test_an_unrelated_exception_is_left_alone() -> None:
    assert classify_sdk_error(KeyError("bug")) is None


def test_a_products_options_reach_its_deployer() -> None:
    credentials = CloudCredentials(access_key_id="id", access_key_secret="secret")
    options = {Product.APIGATEWAY: {"replace_mutual_tls": True}}

    told = CloudDeployers(credentials, options=options).for_product(Product.APIGATEWAY)
    default = CloudDeployers(credentials).for_product(Product.APIGATEWAY)

    assert (vars(told)["_replace_mutual_tls"], vars(default)["_replace_mutual_tls"]) == (True, False)
