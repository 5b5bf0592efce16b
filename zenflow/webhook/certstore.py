"""Where the webhook's serving certificate comes from: a shared Secret or a directory.

``SecretCertSource`` (the default, no cert-manager needed) keeps the CA and serving certificate in
one Secret of the controller's namespace: the first replica creates it, a replica that loses the
create race (AlreadyExists) or the renewal race (Conflict on the resourceVersion) reads the
winner's, and every replica keeps each webhook's ``clientConfig.caBundle`` of the
ValidatingWebhookConfiguration (and of the MutatingWebhookConfiguration of the same name, when
installed) equal to the Secret's CA (a JSON patch, only when it differs).

``FileCertSource`` reads ``tls.crt``/``tls.key`` from a directory (a cert-manager Certificate's
Secret mounted into the pod, say) and touches nothing in the cluster; cert-manager's CA injector
keeps the caBundle.

Both answer ``refresh()`` with the files to load and a fingerprint, so the server reloads its TLS
context exactly when the certificate changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from kubernetes_asyncio import client

from zenflow.certs import (
    DEFAULT_RENEW_BEFORE,
    KEY_TLS_CERT,
    KEY_TLS_KEY,
    CertBundle,
    renew,
    renewal_reason,
)
from zenflow.errors import AlreadyExistsError, ConflictError, KubeError, NotFoundError
from zenflow.kube.errors import wrapped
from zenflow.logging import get_logger

log = get_logger(__name__)

REQUEST_TIMEOUT_S = 10.0
SECRET_LABELS = {"app.kubernetes.io/name": "zenflow", "app.kubernetes.io/component": "webhook"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CertFiles:
    """A certificate/key pair on disk, ready for ``SSLContext.load_cert_chain``."""

    cert_path: Path
    key_path: Path
    fingerprint: str
    not_after: dt.datetime


class CertSource(Protocol):
    @property
    def settled(self) -> bool:
        """False while something is still to be done (e.g. a caBundle not yet patched because
        its configuration does not exist yet): the server then re-checks sooner."""
        ...

    async def refresh(self) -> CertFiles:
        """Make sure the certificate is current; return where it is."""
        ...


def _describe(cert_path: Path, key_path: Path) -> CertFiles:
    pem = cert_path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    return CertFiles(
        cert_path=cert_path,
        key_path=key_path,
        fingerprint=hashlib.sha256(pem + key_path.read_bytes()).hexdigest(),
        not_after=cert.not_valid_after_utc,
    )


class FileCertSource:
    """``tls.crt``/``tls.key`` in a directory, maintained by someone else (e.g. cert-manager)."""

    settled = True

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    async def refresh(self) -> CertFiles:
        return _describe(self._dir / KEY_TLS_CERT, self._dir / KEY_TLS_KEY)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SecretCertSource:
    """The CA and serving certificate in a Secret, shared by all replicas; caBundle kept current.

    ``webhook_config_name`` empty means "do not touch any ValidatingWebhookConfiguration".
    """

    def __init__(
        self,
        *,
        api: client.ApiClient,
        namespace: str,
        secret_name: str,
        hosts: Sequence[str],
        work_dir: Path,
        webhook_config_name: str = "",
        renew_before: dt.timedelta = DEFAULT_RENEW_BEFORE,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._core = client.CoreV1Api(api)
        self._admission = client.AdmissionregistrationV1Api(api)
        self._namespace = namespace
        self._name = secret_name
        self._hosts = list(hosts)
        self._dir = work_dir
        self._config_name = webhook_config_name
        self._renew_before = renew_before
        self._now = now
        self.settled = False

    async def refresh(self) -> CertFiles:
        bundle = await self.ensure_secret()
        self._dir.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = self._dir / KEY_TLS_CERT, self._dir / KEY_TLS_KEY
        # Key first: a reader never sees a new certificate next to an old key for long.
        _write_atomic(key_path, bundle.key_pem)
        _write_atomic(cert_path, bundle.cert_pem)
        self.settled = True
        if self._config_name:
            try:
                await self.sync_ca_bundle(bundle)
            except NotFoundError:
                # Applied in the same `kubectl apply -k` as the Deployment, the configuration
                # may not exist yet: serve anyway and patch it at the next (sooner) check.
                self.settled = False
                log.warning("webhook_configuration_missing", config=self._config_name)
        return _describe(cert_path, key_path)

    async def _read(self) -> tuple[CertBundle | None, str | None]:
        """The stored bundle (None if absent or unreadable) and the Secret's resourceVersion."""
        try:
            async with wrapped(f"get secret {self._namespace}/{self._name}"):
                secret = await self._core.read_namespaced_secret(
                    self._name, self._namespace, _request_timeout=REQUEST_TIMEOUT_S
                )
        except NotFoundError:
            return None, None
        return CertBundle.from_secret_data(secret.data), str(secret.metadata.resource_version)

    def _body(self, bundle: CertBundle, resource_version: str | None) -> client.V1Secret:
        return client.V1Secret(
            api_version="v1",
            kind="Secret",
            metadata=client.V1ObjectMeta(
                name=self._name,
                namespace=self._namespace,
                labels=dict(SECRET_LABELS),
                resource_version=resource_version,
            ),
            type="kubernetes.io/tls",
            data=bundle.to_secret_data(),
        )

    async def ensure_secret(self) -> CertBundle:
        """Read the Secret; create or renew it if needed. Racing replicas converge on one."""
        for _ in range(5):
            stored, resource_version = await self._read()
            now = self._now()
            reason = renewal_reason(
                stored, hosts=self._hosts, now=now, renew_before=self._renew_before
            )
            if reason is None and stored is not None:
                return stored
            fresh = renew(stored, hosts=self._hosts, now=now, renew_before=self._renew_before)
            body = self._body(fresh, resource_version)
            try:
                if resource_version is None:
                    async with wrapped(f"create secret {self._namespace}/{self._name}"):
                        await self._core.create_namespaced_secret(
                            self._namespace, body, _request_timeout=REQUEST_TIMEOUT_S
                        )
                else:
                    async with wrapped(f"update secret {self._namespace}/{self._name}"):
                        await self._core.replace_namespaced_secret(
                            self._name, self._namespace, body, _request_timeout=REQUEST_TIMEOUT_S
                        )
            except (AlreadyExistsError, ConflictError):
                log.info("webhook_cert_race_lost", secret=self._name, namespace=self._namespace)
                continue
            log.info(
                "webhook_cert_issued",
                secret=self._name,
                namespace=self._namespace,
                reason=reason,
                not_after=fresh.serving_not_after().isoformat(),
            )
            return fresh
        raise KubeError(f"secret {self._namespace}/{self._name}: kept losing update races")

    async def sync_ca_bundle(self, bundle: CertBundle) -> int:
        """Set every webhook's caBundle to the trust bundle in the ValidatingWebhookConfiguration
        and, when there is one, the MutatingWebhookConfiguration of the same name (it records
        ``created-by``); returns how many webhooks were patched. A missing validating
        configuration raises NotFoundError; a missing or forbidden mutating one is skipped."""
        want = base64.b64encode(bundle.trust_bundle(now=self._now())).decode()
        patched = await self._sync_config(
            want,
            f"validatingwebhookconfiguration {self._config_name}",
            self._admission.read_validating_webhook_configuration,
            self._admission.patch_validating_webhook_configuration,
        )
        try:
            patched += await self._sync_config(
                want,
                f"mutatingwebhookconfiguration {self._config_name}",
                self._admission.read_mutating_webhook_configuration,
                self._admission.patch_mutating_webhook_configuration,
            )
        except NotFoundError:
            pass  # the mutating path is optional: without it created-by is checked, not set
        except KubeError as exc:
            if exc.status != 403:
                raise
            log.warning("webhook_mutating_configuration_forbidden", error=str(exc))
        return patched

    async def _sync_config(
        self,
        want: str,
        what: str,
        read: Callable[..., Awaitable[Any]],
        patch: Callable[..., Awaitable[Any]],
    ) -> int:
        async with wrapped(f"get {what}"):
            config = await read(self._config_name, _request_timeout=REQUEST_TIMEOUT_S)
        ops: list[dict[str, Any]] = []
        for i, hook in enumerate(config.webhooks or []):
            if (hook.client_config.ca_bundle or "") != want:
                ops.append({"op": "test", "path": f"/webhooks/{i}/name", "value": hook.name})
                ops.append(
                    {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": want}
                )
        if not ops:
            return 0
        async with wrapped(f"patch {what}"):
            await patch(
                self._config_name,
                ops,  # a list body is sent as application/json-patch+json
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        patched = len(ops) // 2
        log.info("webhook_ca_bundle_patched", config=what, webhooks=patched)
        return patched
