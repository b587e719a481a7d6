"""A small OSS server speaking the REST/XML protocol of `oss2` 2.19.1 for bucket CNAME certificates, for tests.

Operations: ListCname (`GET /<bucket>/?cname`) and PutCname (`POST /<bucket>/?cname&comp=add`, OSS PutCname doc),
path-style as oss2 addresses a bucket on an IP endpoint. What the real service does that a deployer relies on:
- Requests are authenticated with the V4 signature (`OSS4-HMAC-SHA256`, what OSS requires of accounts created since
  March 2025; oss2 `ProviderAuthV4`): canonical request over the path, the query, the `x-oss-*`, `content-type` and
  `content-md5` headers plus any `AdditionalHeaders`, the `x-oss-content-sha256` value; scope
  `<date>/<region>/oss/aliyun_v4_request` with the bucket's region; signing key derived from `aliyun_v4<secret>`.
  V1 (`OSS <key>:<signature>`) is refused, as for a new account. The `x-oss-date` must be within 15 minutes and the
  `x-oss-security-token` must be the server's token when it has one.
- A CNAME's certificate is set by a CAS certificate id (`<id>-<cas region>`, it must exist in `cas_certificates`), by
  a PEM certificate and its private key (OSS keeps it as a new CAS certificate and reports its id), or removed with
  `DeleteCertificate`. Replacing a certificate needs `Force` or the current id as `PreviousCertId`.
- ListCname reports each CNAME's certificate: type, id, status, SHA-1 fingerprint (`DE:01:…`), validity.
- Errors are OSS XML `<Error><Code/><Message/><RequestId/><HostId/></Error>` with `x-oss-request-id`.

`fail_next(operation, ...)` makes the next N `ListCname` or `PutCname` calls fail without effect; `calls` records
every authenticated call (a private key in a recorded body reads `REDACTED`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qsl, quote, unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tests.servers.fc2_server import key_pair_problem
from tests.servers.loopback import CloudApiTestServer, LoopbackRequestHandler, ServiceError

LIST_CNAME = "ListCname"
PUT_CNAME = "PutCname"
REDACTED = "REDACTED"
HOST_ID = "oss-cn-hangzhou.aliyuncs.com"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
_V4_AUTHORIZATION = re.compile(
    r"OSS4-HMAC-SHA256 Credential=(?P<key>[^/,]+)/(?P<date>\d{8})/(?P<region>[^/,]+)/oss/aliyun_v4_request,\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})(?:,\s*AdditionalHeaders=(?P<additional>[^,\s]*))?"
)
_DEFAULT_SIGNED_HEADERS = frozenset({"content-type", "content-md5"})


class OssApiError(ServiceError):
    """An OSS error answer."""


@dataclass(frozen=True)
class OssCall:
    operation: str
    method: str
    bucket: str
    query: dict[str, str]
    body: str
    headers: dict[str, str]  # names lower-cased
    status: int


@dataclass
class CnameCertificate:
    cert_id: str
    cert_type: str
    cert_pem: str
    key_pem: str


@dataclass
class _Bucket:
    region: str
    cnames: dict[str, CnameCertificate | None] = field(default_factory=dict)


def v4_uri_encode(text: str, *, keep_slash: bool) -> str:
    """oss2 `ProviderAuthV4.__v4_uri_encode`: RFC 3986 unreserved characters stay, `/` too in a path."""
    return quote(text, safe="-_.~/" if keep_slash else "-_.~")


def v4_signature(
    access_key_secret: str,
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    additional_headers: list[str],
    region: str,
    date_time: str,
) -> str:
    """The OSS V4 signature of a request (names of `headers` lower-cased, `path` decoded)."""
    encoded_query = sorted((v4_uri_encode(k, keep_slash=False), v4_uri_encode(v, keep_slash=False)) for k, v in query)
    canonical_query = "&".join(f"{key}={value}" if value else key for key, value in encoded_query)
    signed = sorted(
        (name, value)
        for name, value in headers.items()
        if name.startswith("x-oss-") or name in _DEFAULT_SIGNED_HEADERS or name in additional_headers
    )
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in signed)
    canonical_request = "\n".join(
        [
            method,
            v4_uri_encode(path, keep_slash=True),
            canonical_query,
            canonical_headers,
            ";".join(sorted(additional_headers)),
            headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ]
    )
    scope = f"{date_time[:8]}/{region}/oss/aliyun_v4_request"
    string_to_sign = "\n".join(
        ["OSS4-HMAC-SHA256", date_time, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = f"aliyun_v4{access_key_secret}".encode()
    for part in (date_time[:8], region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sha1_fingerprint(cert_pem: str) -> str:
    """The fingerprint as ListCname shows it: SHA-1 of the DER certificate, upper-case hex pairs joined by colons."""
    digest = x509.load_pem_x509_certificate(cert_pem.encode("ascii")).fingerprint(hashes.SHA1())
    return ":".join(f"{byte:02X}" for byte in digest)


class _Handler(LoopbackRequestHandler):
    def serve(self) -> None:
        oss: OssTestServer = self.server.test_server
        status, answer = oss._answer(self.command, self.path, self.lowered_headers(), self.read_body())
        payload = answer.encode("utf-8")
        headers = {"Content-Type": "application/xml"} if payload else {}
        self.send_reply(status, payload, headers | {"x-oss-request-id": uuid.uuid4().hex.upper()})


class OssTestServer(CloudApiTestServer[OssCall, OssApiError]):
    """Buckets and their CNAME certificates on 127.0.0.1 (ephemeral port) once started."""

    handler_class = _Handler
    thread_name = "oss-test-server"

    def __init__(
        self,
        *,
        access_key_id: str = "LTAI-oss-test",
        access_key_secret: str = "oss-test-secret",
        security_token: str | None = None,
        cas_region: str = "cn-hangzhou",
    ) -> None:
        super().__init__(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            security_token=security_token,
            operation_of=lambda call: call.operation,
        )
        self.cas_region = cas_region
        self.cas_certificates: dict[str, tuple[str, str]] = {}
        self._next_cas_id = 90_001
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ state

    def add_cas_certificate(self, cas_id: int, cert_pem: str, key_pem: str) -> str:
        """A certificate in CAS, as OSS can read it; returns its OSS CertId (`<id>-<cas region>`)."""
        cert_id = f"{cas_id}-{self.cas_region}"
        with self._lock:
            self.cas_certificates[cert_id] = (cert_pem, key_pem)
        return cert_id

    def add_cname(self, bucket: str, domain: str, *, region: str = "cn-hangzhou", cert_id: str | None = None) -> None:
        """A custom domain bound to `bucket`, serving the CAS certificate `cert_id` (or none)."""
        with self._lock:
            served = self._buckets.setdefault(bucket, _Bucket(region))
            served.cnames[domain] = None if cert_id is None else self._cas_certificate(cert_id, "CAS")

    def served(self, bucket: str, domain: str) -> CnameCertificate | None:
        with self._lock:
            return copy.deepcopy(self._buckets[bucket].cnames[domain])

    def fail_next(self, operation: str, *, times: int = 1, status: int = 503, code: str, message: str) -> None:
        self._faults.add(operation, OssApiError(status, code, message), times=times)

    # ------------------------------------------------------------------ requests

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        raw_path, _, raw_query = target.partition("?")
        path = unquote(raw_path)
        query = parse_qsl(raw_query, keep_blank_values=True)
        bucket_name = path.strip("/").split("/")[0]
        try:
            with self._lock:
                region = self._existing_bucket(bucket_name).region
            self._authenticate(method, path, query, headers, region)
            operation = _route(method, path, dict(query), bucket_name)
        except OssApiError as error:
            return error.status, _error_xml(error)
        text = body.decode("utf-8")
        with self._lock:
            fault = self._faults.take(operation)
            try:
                if fault is not None:
                    raise fault
                reply = self._list(bucket_name) if operation == LIST_CNAME else self._put(bucket_name, text)
                status, answer = 200, reply
            except OssApiError as error:
                status, answer = error.status, _error_xml(error)
            recorded = re.sub(r"<PrivateKey>.*?</PrivateKey>", f"<PrivateKey>{REDACTED}</PrivateKey>", text, flags=re.S)
            self._call_log.append(OssCall(operation, method, bucket_name, dict(query), recorded, headers, status))
        return status, answer

    def _authenticate(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], region: str
    ) -> None:
        authorization = headers.get("authorization", "")
        if authorization.startswith("OSS "):
            raise OssApiError(403, "AccessDenied", "The V1 signature is not available to this account: use V4.")
        match = _V4_AUTHORIZATION.fullmatch(authorization.strip())
        if match is None:
            raise OssApiError(403, "AccessDenied", "The Authorization header is not a V4 OSS4-HMAC-SHA256 signature.")
        if match["key"] != self.access_key_id:
            raise OssApiError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist.")
        date_time = headers.get("x-oss-date", "")
        try:
            sent = datetime.strptime(date_time, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise OssApiError(403, "AccessDenied", "x-oss-date is missing or malformed.") from None
        if abs((datetime.now(timezone.utc) - sent).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
            raise OssApiError(403, "RequestTimeTooSkewed", "The difference between the request time and now is large.")
        if match["date"] != date_time[:8] or match["region"] != region:
            raise OssApiError(403, "SignatureDoesNotMatch", f"The signature scope must be {date_time[:8]}/{region}.")
        if headers.get("x-oss-security-token") != self.security_token:
            raise OssApiError(403, "InvalidSecurityToken", "The security token you provided is invalid.")
        additional = [name for name in (match["additional"] or "").split(";") if name]
        expected = v4_signature(
            self.access_key_secret,
            method=method,
            path=path,
            query=query,
            headers=headers,
            additional_headers=additional,
            region=region,
            date_time=date_time,
        )
        if not hmac.compare_digest(expected, match["signature"]):
            raise OssApiError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")

    def _existing_bucket(self, bucket_name: str) -> _Bucket:
        bucket = self._buckets.get(bucket_name)
        if bucket is None:
            raise OssApiError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return bucket

    def _list(self, bucket_name: str) -> str:
        root = ElementTree.Element("ListCnameResult")
        ElementTree.SubElement(root, "Bucket").text = bucket_name
        ElementTree.SubElement(root, "Owner").text = "1234567890123456"
        for domain, certificate in self._existing_bucket(bucket_name).cnames.items():
            cname = ElementTree.SubElement(root, "Cname")
            ElementTree.SubElement(cname, "Domain").text = domain
            ElementTree.SubElement(cname, "LastModified").text = "2026-01-01T00:00:00.000Z"
            ElementTree.SubElement(cname, "Status").text = "Enabled"
            if certificate is not None:
                parsed = x509.load_pem_x509_certificate(certificate.cert_pem.encode("ascii"))
                element = ElementTree.SubElement(cname, "Certificate")
                for name, value in (
                    ("Type", certificate.cert_type),
                    ("CertId", certificate.cert_id),
                    ("Status", "Enabled"),
                    ("CreationDate", _gmt(datetime.now(timezone.utc))),
                    ("Fingerprint", sha1_fingerprint(certificate.cert_pem)),
                    ("ValidStartDate", _gmt(parsed.not_valid_before_utc)),
                    ("ValidEndDate", _gmt(parsed.not_valid_after_utc)),
                ):
                    ElementTree.SubElement(element, name).text = value
        return ElementTree.tostring(root, encoding="unicode")

    def _put(self, bucket_name: str, text: str) -> str:
        bucket = self._existing_bucket(bucket_name)
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            raise OssApiError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
        domain = root.findtext("Cname/Domain")
        if root.tag != "BucketCnameConfiguration" or not domain:
            raise OssApiError(400, "MalformedXML", "BucketCnameConfiguration/Cname/Domain is required.")
        if domain not in bucket.cnames:
            raise OssApiError(400, "NeedVerifyDomainOwnership", f"The ownership of {domain} is not verified.")
        configuration = root.find("Cname/CertificateConfiguration")
        if configuration is None:
            return ""
        current = bucket.cnames[domain]
        if (configuration.findtext("DeleteCertificate") or "").lower() == "true":
            bucket.cnames[domain] = None
            return ""
        forced = (configuration.findtext("Force") or "").lower() == "true"
        previous = configuration.findtext("PreviousCertId")
        if current is not None and not forced and previous != current.cert_id:
            raise OssApiError(
                409, "PreviousCertIdNotMatch", "The certificate in use does not match PreviousCertId; set Force."
            )
        cert_id = configuration.findtext("CertId")
        cert_pem, key_pem = configuration.findtext("Certificate"), configuration.findtext("PrivateKey")
        if cert_id:
            bucket.cnames[domain] = self._cas_certificate(cert_id, "CAS")
        elif cert_pem and key_pem:
            problem = key_pair_problem(cert_pem, key_pem)
            if problem is not None:
                raise OssApiError(400, "InvalidCertificate", f"The certificate is invalid: {problem}.")
            new_id = f"{self._next_cas_id}-{self.cas_region}"
            self._next_cas_id += 1
            self.cas_certificates[new_id] = (cert_pem, key_pem)
            bucket.cnames[domain] = CnameCertificate(new_id, "Upload", cert_pem, key_pem)
        else:
            raise OssApiError(400, "InvalidArgument", "Give CertId, or Certificate and PrivateKey together.")
        return ""

    def _cas_certificate(self, cert_id: str, cert_type: str) -> CnameCertificate:
        found = self.cas_certificates.get(cert_id)
        if found is None:
            raise OssApiError(400, "InvalidArgument", f"The certificate {cert_id} does not exist in CAS.")
        return CnameCertificate(cert_id, cert_type, *found)


def _route(method: str, path: str, query: dict[str, str], bucket_name: str) -> str:
    if path.rstrip("/") == f"/{bucket_name}" and "cname" in query:
        if method == "GET" and "comp" not in query:
            return LIST_CNAME
        if method == "POST" and query.get("comp") == "add":
            return PUT_CNAME
    raise OssApiError(405, "MethodNotAllowed", f"{method} {path} is not served here.")


def _error_xml(error: OssApiError) -> str:
    root = ElementTree.Element("Error")
    for name, value in (
        ("Code", error.code),
        ("Message", error.message),
        ("RequestId", uuid.uuid4().hex.upper()),
        ("HostId", HOST_ID),
    ):
        ElementTree.SubElement(root, name).text = value
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")


def _gmt(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
