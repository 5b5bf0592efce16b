"""A flow never does more than its author may: SubjectAccessReviews as the requesting user.

For an admitted review that carries an ``AccessPlan`` (a CREATE, or an UPDATE that changes the
spec), ``FlowAuthorizer.check`` asks the API server, as the user the API server authenticated
(``userInfo``: user, groups, uid, extra), whether they may do each thing the flow will make the
controller do (``zenflow.webhook.access``), and refuses objects in the controller's own
namespace. Each unmet requirement becomes one message naming the missing permission, e.g.
``user "alice" may not create jobs.batch in namespace "team-a" (the flow's steps run as Jobs)``.

Invariants:
- Fail closed: a SubjectAccessReview that cannot be made (API server unreachable, the webhook's
  own RBAC missing, the deadline passing) refuses the object with a message saying so.
- All reviews of one object run concurrently, under the review's deadline.
- A denied answer is never cached; an allowed one is kept ``cache_ttl`` seconds (default 10),
  per (user, groups, uid, extra, permission), in a bounded cache.
- The requests go through ``zenflow.kube.rest.Rest`` on the webhook's own API client (never the
  controller's throttled one: admission must not queue behind reconcile writes).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Final

from kubernetes_asyncio import client

from zenflow.errors import KubeError
from zenflow.kube.rest import Rest
from zenflow.logging import get_logger
from zenflow.webhook.access import Permission, Requirement
from zenflow.webhook.admission import Outcome, Requester, forbidden

log = get_logger(__name__)

SAR_PATH: Final = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
CACHE_SIZE: Final = 4096

Clock = Callable[[], float]
_Key = tuple[Requester, Permission]


def sar_body(requester: Requester, permission: Permission) -> dict[str, Any]:
    """The SubjectAccessReview asking whether ``requester`` holds ``permission``."""
    attributes = {
        "namespace": permission.namespace,
        "verb": permission.verb,
        "group": permission.group,
        "resource": permission.resource,
    }
    if permission.subresource:
        attributes["subresource"] = permission.subresource
    if permission.name:
        attributes["name"] = permission.name
    spec: dict[str, Any] = {"user": requester.username, "resourceAttributes": attributes}
    if requester.groups:
        spec["groups"] = list(requester.groups)
    if requester.uid:
        spec["uid"] = requester.uid
    if requester.extra:
        spec["extra"] = {key: list(values) for key, values in requester.extra}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


class FlowAuthorizer:
    """Checks AccessPlans as the requesting user; refuses flows in ``protected_namespaces``."""

    def __init__(
        self,
        rest: Rest,
        *,
        owned_client: client.ApiClient | None = None,
        protected_namespaces: Iterable[str],
        cache_ttl: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._rest = rest
        self._owned = owned_client
        self.protected_namespaces = frozenset(protected_namespaces)
        self._ttl = cache_ttl
        self._clock = clock
        self._allowed: OrderedDict[_Key, float] = OrderedDict()

    async def close(self) -> None:
        """Close the API client handed over at construction, if any. Idempotent."""
        if self._owned is not None:
            owned, self._owned = self._owned, None
            await owned.close()

    async def check(self, outcome: Outcome, *, deadline: float) -> Outcome:
        """``outcome`` unchanged when its author may do everything its object asks for, else a
        403 denial listing what is missing. Only allowed outcomes with a plan are checked."""
        plan = outcome.access
        if outcome.result != "allowed" or plan is None or outcome.requester is None:
            return outcome
        if plan.namespace in self.protected_namespaces:
            return forbidden(
                outcome,
                [
                    f"metadata.namespace: {plan.namespace!r} is the zenflow controller's own "
                    f"namespace; {outcome.kind}s may not run there (its Jobs could use the "
                    "controller's ServiceAccount and Secrets)"
                ],
            )
        if plan.problems:
            return forbidden(outcome, list(plan.problems))
        requester = outcome.requester
        try:
            async with asyncio.timeout_at(deadline):
                missing = await self._missing(requester, plan.requirements)
        except (TimeoutError, KubeError) as exc:
            reason = "the time budget ran out" if isinstance(exc, TimeoutError) else str(exc)
            log.error("admission_authorization_failed", user=requester.username, error=reason)
            return forbidden(
                outcome,
                [f"could not check the author's permissions (SubjectAccessReview): {reason}"],
            )
        if not missing:
            return outcome
        who = f"user {requester.username!r}"
        return forbidden(
            outcome,
            [
                f"{who} may not {req.describe()} in namespace {plan.namespace!r} ({req.why}); "
                f"{req.hint}"
                for req in missing
            ],
        )

    async def _missing(
        self, requester: Requester, requirements: Iterable[Requirement]
    ) -> list[Requirement]:
        requirements = list(requirements)
        permissions = list(dict.fromkeys(p for req in requirements for p in req.any_of))
        answers = await asyncio.gather(*(self._allows(requester, p) for p in permissions))
        allowed = {p for p, ok in zip(permissions, answers, strict=True) if ok}
        return [req for req in requirements if not allowed.intersection(req.any_of)]

    async def _allows(self, requester: Requester, permission: Permission) -> bool:
        key = (requester, permission)
        now = self._clock()
        expires = self._allowed.get(key)
        if expires is not None and expires > now:
            return True
        answer = await self._rest.request(
            "POST",
            SAR_PATH,
            body=sar_body(requester, permission),
            what=f"subjectaccessreview {permission.describe()}",
        )
        status = answer.get("status") or {}
        allowed = bool(status.get("allowed")) and not status.get("denied")
        if allowed and self._ttl > 0:
            self._allowed[key] = now + self._ttl
            self._allowed.move_to_end(key)
            while len(self._allowed) > CACHE_SIZE:
                self._allowed.popitem(last=False)
        return allowed
