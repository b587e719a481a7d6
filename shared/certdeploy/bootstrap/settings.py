"""All configuration, from the environment (prefix `CERTDEPLOY_`), validated once per process.

A plain pydantic model reads the environment itself rather than through pydantic-settings: every FC function's cold
start builds it, and that library (with python-dotenv and its own models) cost each one ~30 ms and ~3 MiB for the
few lines below (docs/runtime.md#cold-starts).

The embedded default needs none of it: everything lives under the data directory. In the cloud, `s.yaml` sets the
database URL and queue settings; secrets (database password inside the URL, key-encryption key, SMTP password) come
from the environment, filled from KMS-encrypted values — never written in s.yaml in clear.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from certdeploy.adapters.cloud.common import CHINA_CAS_REGION, INTERNATIONAL_CAS_REGION
from certdeploy.adapters.private_files import private_directory, read_or_create
from certdeploy.adapters.sql.crypto import generate_key_encryption_key
from certdeploy.app.accounts import DEFAULT_ACCOUNT
from certdeploy.domain.text_enum import TextEnum
from certdeploy.domain.verification import DEFAULT_RECHECK_SECONDS
from certdeploy.ports.queue import MAX_DELAY_SECONDS


class QueueBackend(TextEnum):
    LOCAL = "local"
    MNS = "mns"


class CloudBackend(TextEnum):
    LOCAL = "local"
    ALIYUN = "aliyun"


class Site(TextEnum):
    """The Alibaba Cloud site of the account: where CAS keeps its certificates (`cas_region`)."""

    CHINA = "china"
    INTERNATIONAL = "international"

    @property
    def cas_region(self) -> Literal["cn-hangzhou", "ap-southeast-1"]:
        return CHINA_CAS_REGION if self is Site.CHINA else INTERNATIONAL_CAS_REGION


ENV_PREFIX = "CERTDEPLOY_"


class Settings(BaseModel):
    """`Settings()` reads each field from `CERTDEPLOY_<FIELD>` (the name in any case); keyword arguments win over the
    environment. Lists are comma-separated."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    data: Path = Field(Path(".certdeploy"), description="directory holding all embedded state")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the data directory")
    key_encryption_key: SecretStr | None = Field(
        None, description="encrypts private keys and AccessKey secrets at rest; default: a key file in the data dir"
    )

    queue_backend: QueueBackend = QueueBackend.LOCAL
    mns_endpoint: str | None = Field(None, description="e.g. http://<uid>.mns.cn-hangzhou.aliyuncs.com")
    queue_deploy: str = "certdeploy-deploy"
    queue_notify: str = "certdeploy-notify"
    queue_rollback: str = "certdeploy-rollback"
    queue_certificate_issued: str = "certdeploy-certificate-issued"
    queue_dead_letter: str = "certdeploy-dead-letter"
    queue_max_receives: int = Field(8, ge=1, description="receives before a local message is dead-lettered")
    queue_visibility_seconds: int = Field(120, ge=1, le=43_200)

    cloud: CloudBackend = CloudBackend.LOCAL
    cas_account: str = Field(
        DEFAULT_ACCOUNT,
        min_length=1,
        description="cloud backend: the account that mirrors the function role's CAS certificates and cloud resources",
    )

    site: Site = Field(
        Site.CHINA, description="aliyun cloud: the account's site, china (CAS in cn-hangzhou) or international"
    )
    apigateway_replace_mutual_tls: bool = Field(
        False, description="bind API Gateway domains that have mutual TLS anyway, turning it off (it cannot be kept)"
    )

    local_tls_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="local cloud: serve each HTTPS resource's certificate on 127.0.0.1:<port> through an SNI router "
        "(0: a free port); unset: the local cloud serves no TLS",
    )
    verify_served: bool | None = Field(
        None,
        description="check what each resource serves after a deployment (docs/verification.md); unset: on when the "
        "local cloud serves TLS, off on the aliyun cloud",
    )
    verify_recheck_seconds: tuple[int, ...] = Field(
        DEFAULT_RECHECK_SECONDS,
        description="delays between the checks of a slowly propagating product (comma-separated seconds)",
    )
    verify_timeout_seconds: float = Field(5, gt=0, le=60)
    verify_guard: bool = Field(
        False, description="checks connect only to public addresses, or to those in verify_allow_ranges"
    )
    verify_allow_ranges: tuple[str, ...] = Field(
        (), description="address ranges (CIDR) checks may reach despite verify_guard (comma-separated)"
    )
    verify_deny_ranges: tuple[str, ...] = Field(
        (), description="address ranges (CIDR) checks never connect to (comma-separated)"
    )

    deploy_max_attempts: int = Field(5, ge=1)
    deploy_retry_base_seconds: int = Field(5, ge=1)
    stuck_after_seconds: int = Field(900, ge=30)
    resource_sync_seconds: int | None = Field(
        None,
        ge=0,
        description="seconds between the scheduler's syncs of an account's resources from the cloud's inventory (0: "
        "every tick); unset: 300 on the aliyun cloud, 60 on the local cloud",
    )
    local_consumers: int | None = Field(
        None, ge=1, le=64, description="threads of `certdeploy serve` consuming the deploy queue; default: CPU count"
    )

    api_rate_per_account: float = Field(
        50, ge=0, description="API requests per second per account, on average (docs/protocol.md#throttling); 0: none"
    )
    api_burst_per_account: int = Field(100, ge=1, description="API requests per account in a row, past the average")
    api_concurrency_per_account: int = Field(
        4, ge=0, description="API requests of one account running at once, per process; 0: none"
    )
    notify_per_account_per_hour: int = Field(
        100, ge=0, description="notification deliveries per account per hour (docs/decisions.md#notifications); 0: none"
    )
    notify_per_address_per_hour: int = Field(
        10, ge=0, description="notification deliveries per address per hour; 0: none"
    )

    certificate_event_source: str = "certdeploy.cas"
    certificate_event_type: str = "cas:Certificate:Issued"

    smtp_url: SecretStr | None = Field(None, description="smtp://, smtp+starttls:// or smtps:// URL; unset: log mails")
    mail_from: str = "certdeploy@localhost"
    webhook_allow_hosts: tuple[str, ...] = Field(
        (), description="hosts allowed besides the DingTalk/WeCom/Lark bot hosts (comma-separated)"
    )
    sms_sign_name: str | None = Field(
        None, description="approved SMS signature (SignName); SMS is sent when it, the template and credentials exist"
    )
    sms_template_code: str | None = Field(
        None, description="approved SMS notification template (SMS_...) using the variables of render_sms_parameters"
    )

    functions_dir: Path | None = Field(
        None, description="the repository's functions/ folder, for the local runner; default: next to the package"
    )

    access_key_id: str | None = Field(None, description="AccessKey of the first account on first start")
    access_key_secret: SecretStr | None = None

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_from_environment(), **values})

    @field_validator(
        "webhook_allow_hosts", "verify_recheck_seconds", "verify_allow_ranges", "verify_deny_ranges", mode="before"
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("verify_allow_ranges", "verify_deny_ranges")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("verify_recheck_seconds")
    @classmethod
    def _delays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(delay < 1 or delay > MAX_DELAY_SECONDS for delay in value):
            raise ValueError(f"each re-check delay is 1–{MAX_DELAY_SECONDS} seconds")
        return value

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        private_directory(self.data)
        return f"sqlite:///{(self.data / 'certdeploy.sqlite').resolve()}"

    def encryption_key(self) -> str:
        """The key-encryption key; the embedded default keeps one in the data directory, readable by its owner only,
        made by whichever process starts first (all others read that one)."""
        if self.key_encryption_key is not None:
            return self.key_encryption_key.get_secret_value()
        return read_or_create(self.data / "key-encryption-key", generate_key_encryption_key).strip()

    def known_encryption_key(self) -> str | None:
        """The key-encryption key when there is one to use without making one: configured, or the embedded store's.
        A configured database whose key is not given (e.g. `certdeploy migrate` run from an admin's machine) has
        none here, rather than a new one in a local data directory."""
        if self.key_encryption_key is None and self.database_url is not None:
            return None
        return self.encryption_key()

    def bootstrap_access_key(self) -> tuple[str, str] | None:
        if self.access_key_id and self.access_key_secret:
            return self.access_key_id, self.access_key_secret.get_secret_value()
        return None


def _from_environment() -> dict[str, str]:
    names = {ENV_PREFIX + name.upper(): name for name in Settings.model_fields}
    return {names[key.upper()]: value for key, value in os.environ.items() if key.upper() in names}
