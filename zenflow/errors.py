"""zenflow's exception tree.

Client-library errors are wrapped once, at the kube boundary (``zenflow.kube.errors``), into these
types with the original chained as ``__cause__``; nothing above that layer catches
``kubernetes_asyncio`` exceptions directly.
"""

from __future__ import annotations


class ZenflowError(Exception):
    """Base of every error zenflow raises on purpose."""


class ConfigError(ZenflowError):
    """A flag, environment variable or file given to zenflow is invalid."""


class ControlPlaneError(ZenflowError):
    """The local control plane (envtest) could not be built, started or stopped."""


class KubeError(ZenflowError):
    """The API server answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFoundError(KubeError):
    """404: the object does not exist."""


class AlreadyExistsError(KubeError):
    """409 AlreadyExists on create."""


class ConflictError(KubeError):
    """409 Conflict: the resourceVersion we sent is stale."""


class GoneError(KubeError):
    """410 Gone: the resourceVersion we asked to watch from is too old."""


class UnreachableError(KubeError):
    """The API server could not be reached (connection refused, DNS, TLS, timeout)."""
