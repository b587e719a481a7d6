"""The composition root: settings in, ports and use-case dependencies out. The only place adapters are chosen.

Built once per process (an FC instance's initializer, or `certdeploy serve`), never at import. Each FC function
imports and builds only what it uses (docs/runtime.md#cold-starts): adapters are imported where they are chosen, the
API's dependencies and the notifier's channels are built on first use, so the API's reply models are only loaded by
the `api` function, the senders only by the consumers that notify, and Alembic only where the schema is migrated.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certdeploy.app.deps import CertificateEventKind, Deps, NotifyLimits
from certdeploy.app.messages import QueueRole
from certdeploy.bootstrap.settings import CloudBackend, QueueBackend, Settings
from certdeploy.domain.failures import RetryPolicy
from certdeploy.domain.models import Product
from certdeploy.ports.clock import Clock, SystemClock
from certdeploy.ports.cloud import CertificateSource, Deployers, Inventory
from certdeploy.ports.notifier import Admit, Channel, DeliveryResult, Notifier
from certdeploy.ports.queue import Queue, QueueAttributes
from certdeploy.ports.verify import ServedChains

if TYPE_CHECKING:
    from certdeploy.adapters.cloud.common import ApiTarget
    from certdeploy.adapters.local_cloud import LocalCloud
    from certdeploy.adapters.local_tls import LocalTlsRouter
    from certdeploy.adapters.notify import Sender
    from certdeploy.adapters.sql.store import SqlStore
    from certdeploy.api.actions_common import ApiDeps
    from certdeploy.domain.models import Contact
    from certdeploy.domain.notifications import JobReport

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    deps: Deps
    notifier: Notifier
    local_cloud: LocalCloud | None
    _closers: list[Callable[[], None]] = field(default_factory=list)
    _api: ApiDeps | None = None
    _api_lock: threading.Lock = field(default_factory=threading.Lock)
    # The local cloud's TLS (SNI router), when `local_tls_port` is set.
    local_tls: LocalTlsRouter | None = None

    @property
    def store(self) -> SqlStore:
        return self.deps.store  # type: ignore[return-value]

    @property
    def api(self) -> ApiDeps:
        """What the API's actions are given, built on first use: only the `api` function (and `certdeploy serve`)
        loads the API; the lock keeps one rate limiter when the first requests arrive together."""
        with self._api_lock:
            if self._api is None:
                self._api = _api(self.settings, self.deps)
            return self._api

    @api.setter
    def api(self, api: ApiDeps) -> None:
        self._api = api

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


class NotifierOnFirstUse:
    """The contacts' notifier, built when the first report is sent: every queue consumer is handed a notifier, but
    only the notify function sends, so only it loads the senders (SMTP, webhooks, SMS)."""

    def __init__(self, build: Callable[[], Notifier]) -> None:
        self._build = build
        self._notifier: Notifier | None = None
        self._lock = threading.Lock()

    def notify(
        self, contact: Contact, report: JobReport, *, skip_keys: Collection[str] = (), admit: Admit | None = None
    ) -> list[DeliveryResult]:
        with self._lock:
            if self._notifier is None:
                self._notifier = self._build()
        return self._notifier.notify(contact, report, skip_keys=skip_keys, admit=admit)


def _queue_names(settings: Settings) -> dict[QueueRole, str]:
    return {
        QueueRole.DEPLOY: settings.queue_deploy,
        QueueRole.NOTIFY: settings.queue_notify,
        QueueRole.ROLLBACK: settings.queue_rollback,
        QueueRole.CERTIFICATE_ISSUED: settings.queue_certificate_issued,
        QueueRole.DEAD_LETTER: settings.queue_dead_letter,
    }


def _queues(settings: Settings, clock: Clock, context: Any | None, closers: list) -> dict[QueueRole, Queue]:
    names = _queue_names(settings)
    if settings.queue_backend is QueueBackend.MNS:
        from certdeploy.adapters.cloud.common import CloudCredentials
        from certdeploy.adapters.mns_queue import MnsQueue

        if not settings.mns_endpoint:
            raise RuntimeError("The MNS queue backend needs CERTDEPLOY_MNS_ENDPOINT.")
        credentials = CloudCredentials.from_fc_context(context)
        token = credentials.security_token.get_secret_value() if credentials.security_token else ""
        return {
            role: MnsQueue(
                settings.mns_endpoint,
                credentials.access_key_id,
                credentials.access_key_secret.get_secret_value(),
                name,
                security_token=token,
            )
            for role, name in names.items()
        }
    from certdeploy.adapters.local_queue import LocalQueue

    path = settings.data / "queues.sqlite"
    queues: dict[QueueRole, Queue] = {}
    for role, name in names.items():
        attributes = (
            QueueAttributes(visibility_timeout_seconds=settings.queue_visibility_seconds)
            if role is QueueRole.DEAD_LETTER
            else QueueAttributes(
                visibility_timeout_seconds=settings.queue_visibility_seconds,
                max_receive_count=settings.queue_max_receives,
                dead_letter_queue=settings.queue_dead_letter,
            )
        )
        queue = LocalQueue(path, name, attributes=attributes, clock=clock)
        closers.append(queue.close)
        queues[role] = queue
    return queues


def _sms_sender(settings: Settings, context: Any | None) -> Sender:
    """Alibaba Cloud SMS when a signature, a template and cloud credentials are all there; otherwise SMS is logged
    like unsent email (contacts always have a mobile, so a missing sender would fail every report)."""
    from certdeploy.adapters.notify.log import LogSender

    _check_sms(settings)
    if not settings.sms_sign_name:
        return LogSender(Channel.SMS)
    from certdeploy.adapters.cloud.common import CloudCredentials
    from certdeploy.adapters.notify.sms import SmsSender, SmsSettings

    try:
        credentials = CloudCredentials.from_fc_context(context)
    except ValueError as missing:
        log.warning("SMS is configured but not sent, only logged: %s", missing)
        return LogSender(Channel.SMS)
    return SmsSender(
        credentials, SmsSettings(sign_name=settings.sms_sign_name, template_code=settings.sms_template_code)
    )


def _check_sms(settings: Settings) -> None:
    """At start, not at the first report: a half-configured SMS is a deployment error to see at once."""
    if bool(settings.sms_sign_name) != bool(settings.sms_template_code):
        raise RuntimeError("SMS needs both CERTDEPLOY_SMS_SIGN_NAME and CERTDEPLOY_SMS_TEMPLATE_CODE.")


def _notifier(settings: Settings, context: Any | None) -> Notifier:
    from certdeploy.adapters.notify import ContactNotifier
    from certdeploy.adapters.notify.log import LogSender
    from certdeploy.adapters.notify.smtp import SmtpSender, SmtpSettings
    from certdeploy.adapters.notify.webhook import WebhookSender, WebhookSettings

    senders: dict[Channel, Sender] = {
        Channel.WEBHOOK: WebhookSender(WebhookSettings(allowed_hosts=settings.webhook_allow_hosts)),
        Channel.EMAIL: (
            SmtpSender(SmtpSettings(url=settings.smtp_url.get_secret_value(), from_address=settings.mail_from))
            if settings.smtp_url is not None
            else LogSender(Channel.EMAIL)
        ),
        Channel.SMS: _sms_sender(settings, context),
    }
    return ContactNotifier(senders)


@dataclass(frozen=True)
class CloudTargets:
    """Where the cloud backend reaches CAS and each product's API; unset: the SDKs' own endpoints for the region."""

    cas: ApiTarget | None = None
    products: Mapping[Product, ApiTarget] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cloud:
    deployers: Deployers
    inventory: Inventory | None
    certificate_source: CertificateSource | None = None
    local: LocalCloud | None = None
    local_tls: LocalTlsRouter | None = None


def _cloud(settings: Settings, context: Any | None, closers: list, targets: CloudTargets, clock: Clock) -> _Cloud:
    if settings.cloud is CloudBackend.ALIYUN:
        from certdeploy.adapters.cloud import CloudDeployers
        from certdeploy.adapters.cloud.cas_source import CasSource
        from certdeploy.adapters.cloud.common import ApiTarget, CloudCredentials

        credentials = CloudCredentials.from_fc_context(context)
        site = {"cas_region": settings.site.cas_region}
        source = CasSource(credentials, (targets.cas or ApiTarget()).model_copy(update=site))
        products = {product: targets.products.get(product, ApiTarget()).model_copy(update=site) for product in Product}
        options = {Product.APIGATEWAY: {"replace_mutual_tls": settings.apigateway_replace_mutual_tls}}
        return _Cloud(CloudDeployers(credentials, products, options=options), source, source)
    from certdeploy.adapters.local_cloud import LocalCloud

    local = LocalCloud(settings.data / "cloud.sqlite", now=lambda: clock.now().timestamp())
    closers.append(local.close)
    router = None
    if settings.local_tls_port is not None:
        from certdeploy.adapters.local_tls import LocalTlsRouter

        router = LocalTlsRouter(local.served_certificate, port=settings.local_tls_port)
        router.start()
        closers.append(router.close)
    return _Cloud(local, local, local=local, local_tls=router)


def _served_chains(settings: Settings, cloud: _Cloud) -> ServedChains | None:
    """What verification reads served chains with: the local cloud's router, or each resource's domain; None when
    verification is off (docs/verification.md)."""
    on = settings.verify_served if settings.verify_served is not None else cloud.local_tls is not None
    if not on:
        return None
    from certdeploy.adapters.tls_probe import AddressGuard, TlsProbe, parse_ranges

    guard = AddressGuard(
        allow=parse_ranges(settings.verify_allow_ranges),
        deny=parse_ranges(settings.verify_deny_ranges),
        public_only=settings.verify_guard,
    )
    connect_to = cloud.local_tls.address if cloud.local_tls is not None else None
    return TlsProbe(guard=guard, connect_to=connect_to, timeout_seconds=settings.verify_timeout_seconds)


# The scheduler's resource sync interval unless set: in the cloud each sync pages ListCloudResources; the local cloud
# changes only by `certdeploy cloud load` (which syncs at once) or a hand edit, and a sync of it is cheap.
CLOUD_RESOURCE_SYNC_SECONDS = 300
LOCAL_RESOURCE_SYNC_SECONDS = 60


def _resource_sync_seconds(settings: Settings, cloud: _Cloud) -> int:
    if settings.resource_sync_seconds is not None:
        return settings.resource_sync_seconds
    return LOCAL_RESOURCE_SYNC_SECONDS if cloud.local is not None else CLOUD_RESOURCE_SYNC_SECONDS


def build_container(
    settings: Settings | None = None,
    *,
    context: Any | None = None,
    clock: Clock | None = None,
    migrate: bool | None = None,
    cloud_targets: CloudTargets | None = None,
) -> Container:
    """Everything a function or the local runner needs. `migrate` defaults to True only for the embedded SQLite
    store; in the cloud the `migrate` command runs once per deploy. On the cloud backend, the CAS source describes
    the function role's account, mirrored into the certdeploy account `settings.cas_account`."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    closers: list[Callable[[], None]] = []
    url = settings.store_url
    key_encryption_key = settings.encryption_key()
    if migrate if migrate is not None else settings.database_url is None:
        from certdeploy.adapters.sql.migrate import upgrade

        upgrade(url, key_encryption_key=key_encryption_key)
    from certdeploy.adapters.sql.store import SqlStore

    store = SqlStore.from_url(url, key_encryption_key=key_encryption_key, clock=clock)
    closers.append(store.close)
    queues = _queues(settings, clock, context, closers)
    cloud = _cloud(settings, context, closers, cloud_targets or CloudTargets(), clock)
    deps = Deps(
        store=store,
        clock=clock,
        queues=queues,
        deployers=cloud.deployers,
        inventory=cloud.inventory,
        certificate_source=cloud.certificate_source,
        source_account=settings.cas_account if cloud.certificate_source is not None else None,
        retry=RetryPolicy(
            max_attempts=settings.deploy_max_attempts, base_delay_seconds=settings.deploy_retry_base_seconds
        ),
        stuck_after_seconds=settings.stuck_after_seconds,
        resource_sync_seconds=_resource_sync_seconds(settings, cloud),
        certificate_event=CertificateEventKind(settings.certificate_event_source, settings.certificate_event_type),
        notify_limits=NotifyLimits(settings.notify_per_account_per_hour, settings.notify_per_address_per_hour),
        served_chains=_served_chains(settings, cloud),
        verify_recheck_seconds=settings.verify_recheck_seconds,
    )
    _check_sms(settings)
    notifier = NotifierOnFirstUse(lambda: _notifier(settings, context))
    return Container(settings, deps, notifier, cloud.local, closers, local_tls=cloud.local_tls)


@functools.cache
def _webhook_rule(allowed_hosts: tuple[str, ...]) -> Callable[[str], str | None]:
    from certdeploy.adapters.notify.webhook import WebhookSettings, webhook_refusal

    return webhook_refusal(WebhookSettings(allowed_hosts=allowed_hosts))


def _webhook_check(allowed_hosts: tuple[str, ...]) -> Callable[[str], str | None]:
    """The webhook notifier's rule for a contact's URLs, loaded when the first URL is checked: its module brings
    `http.client` and email's parser, which no other action of the API needs."""
    return lambda url: _webhook_rule(allowed_hosts)(url)


def _api(settings: Settings, deps: Deps) -> ApiDeps:
    from certdeploy.api.actions_common import ApiDeps
    from certdeploy.api.throttle import RateLimiter

    return ApiDeps(
        deps,
        _webhook_check(settings.webhook_allow_hosts),
        RateLimiter(
            settings.api_rate_per_account, settings.api_burst_per_account, settings.api_concurrency_per_account
        ),
    )
