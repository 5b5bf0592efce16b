"""What a flow's author must be allowed to do directly, derived from the object: pure.

A JobFlow makes the controller create, in the flow's namespace, one Job per step attempt, the
PersistentVolumeClaims and ConfigMaps of ``spec.resourceTemplates``, the claims of its
``volumeClaimTemplate`` workspaces, and Pods that run as the
ServiceAccounts the Job templates name; and read, for its notifications, the Secrets holding the
receivers' URLs (the controller may read Secrets the author may not: the flow would send their
value to a receiver it chooses). A CronJobFlow makes it create JobFlows from its template.
``required_access`` lists, for an object the validator already accepted, the permissions its
author needs for each of those; ``zenflow.webhook.authorize`` asks the API server (as the author)
whether they hold.

Kubernetes has no "use" verb for ServiceAccounts (anyone who may create Pods in a namespace may
name any of its ServiceAccounts), so a named ServiceAccount requires the author to be able to act
as it already: ``impersonate`` on that ServiceAccount, or ``create`` on its ``token`` subresource
(either grants its credentials; the built-in ``edit`` and ``admin`` roles hold both). A Pod with
no ServiceAccount runs as ``default``, which creating a Job already implies.

Invariants: the result depends only on the object; every ServiceAccount name that cannot be known
before the flow runs (a reference to step outputs, matrix values, ...) is a field-named problem,
never silently skipped; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from zenflow.api.constants import CRONJOBFLOW_KIND, GROUP, JOBFLOW_PLURAL
from zenflow.core.templating import Reference, TemplateError, parse_references, render_string

_SA_FIELDS: Final = ("serviceAccountName", "serviceAccount")


@dataclass(frozen=True)
class Permission:
    """One SubjectAccessReview's resource attributes."""

    verb: str
    resource: str
    namespace: str
    group: str = ""
    subresource: str = ""
    name: str = ""

    def describe(self) -> str:
        """``create jobs.batch`` / ``impersonate serviceaccounts "ci"`` (kubectl's spelling)."""
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.subresource:
            what += f"/{self.subresource}"
        if self.name:
            what += f' "{self.name}"'
        return f"{self.verb} {what}"


@dataclass(frozen=True)
class Requirement:
    """Satisfied when the author holds any one of ``any_of``; ``why`` says what needs it."""

    any_of: tuple[Permission, ...]
    why: str
    hint: str = "a flow can only do what its author may do directly"
    """The rule a refusal cites (approvals cite theirs)."""

    def describe(self) -> str:
        return " or ".join(p.describe() for p in self.any_of)


@dataclass(frozen=True)
class AccessPlan:
    """What to check for one admitted object, and the names that cannot be checked."""

    namespace: str
    requirements: tuple[Requirement, ...] = ()
    problems: tuple[str, ...] = ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _param_values(spec: Mapping[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for param in _list(spec.get("params")):
        param = _mapping(param)
        value = param.get("value", param.get("default"))
        if isinstance(param.get("name"), str) and value is not None:
            values[param["name"]] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def _service_accounts(spec: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    """(field path, raw name) of every ServiceAccount a step's Job template names."""
    for group in ("steps", "finally"):
        for i, step in enumerate(_list(spec.get(group))):
            job_spec = _mapping(_mapping(_mapping(step).get("template")).get("spec"))
            pod = _mapping(_mapping(job_spec.get("template")).get("spec"))
            for field in _SA_FIELDS:
                name = pod.get(field)
                if isinstance(name, str) and name:
                    yield f"{prefix}.{group}[{i}].template.spec.template.spec.{field}", name


def _resolve(path: str, raw: str, params: Mapping[str, str]) -> str:
    """The ServiceAccount name ``raw`` renders to, or raises TemplateError naming ``path``."""

    def resolve(ref: Reference) -> str:
        if ref.root == "params" and len(ref.parts) == 1 and ref.parts[0] in params:
            return params[ref.parts[0]]
        raise TemplateError(
            f"{path}: {ref.text} is known only when the flow runs; with flow authorization "
            "on, a ServiceAccount name may only be literal or use params with a value"
        )

    refs, errors = parse_references(raw)
    if errors:
        raise TemplateError(f"{path}: {errors[0]}")
    return render_string(raw, resolve) if refs else raw


def _notification_secrets(
    spec: Mapping[str, Any], namespace: str, prefix: str
) -> Iterator[Requirement]:
    """``get`` on each distinct Secret a notification's sink reads its URL from."""
    seen: set[str] = set()
    for i, notification in enumerate(_list(spec.get("notifications"))):
        for sink in ("webhook", "slack"):
            ref = _mapping(
                _mapping(_mapping(_mapping(notification).get(sink)).get("urlFrom")).get(
                    "secretKeyRef"
                )
            )
            name = ref.get("name")
            if not isinstance(name, str) or not name or name in seen:
                continue
            seen.add(name)
            yield Requirement(
                (Permission("get", "secrets", namespace, name=name),),
                f"{prefix}.notifications[{i}].{sink}.urlFrom.secretKeyRef reads the receiver's "
                "URL from it",
            )


def _flow_requirements(
    spec: Mapping[str, Any], namespace: str, prefix: str
) -> tuple[list[Requirement], list[str]]:
    requirements = [
        Requirement(
            (Permission("create", "jobs", namespace, group="batch"),),
            "the flow's steps run as Jobs",
        )
    ]
    templates = _mapping(spec.get("resourceTemplates"))
    for key, resource in (
        ("volumeClaimTemplates", "persistentvolumeclaims"),
        ("configMapTemplates", "configmaps"),
    ):
        if _list(templates.get(key)):
            requirements.append(
                Requirement(
                    (Permission("create", resource, namespace),),
                    f"{prefix}.resourceTemplates.{key} creates them",
                )
            )
    if any(
        _mapping(w).get("volumeClaimTemplate") is not None for w in _list(spec.get("workspaces"))
    ):
        requirements.append(
            Requirement(
                (Permission("create", "persistentvolumeclaims", namespace),),
                f"{prefix}.workspaces[].volumeClaimTemplate creates them",
            )
        )
    requirements.extend(_notification_secrets(spec, namespace, prefix))
    problems: list[str] = []
    params = _param_values(spec)
    seen: set[str] = set()
    for path, raw in _service_accounts(spec, prefix):
        try:
            name = _resolve(path, raw, params)
        except TemplateError as exc:
            problems.append(str(exc))
            continue
        if name in seen:
            continue
        seen.add(name)
        requirements.append(
            Requirement(
                (
                    Permission("impersonate", "serviceaccounts", namespace, name=name),
                    Permission(
                        "create", "serviceaccounts", namespace, subresource="token", name=name
                    ),
                ),
                f"{path} runs the step's Pods as that ServiceAccount",
            )
        )
    return requirements, problems


def required_access(kind: str, namespace: str, obj: Mapping[str, Any]) -> AccessPlan:
    """The permissions the author of ``obj`` (a JobFlow or CronJobFlow) must hold."""
    spec = _mapping(obj.get("spec"))
    if kind == CRONJOBFLOW_KIND:
        flow_spec = _mapping(_mapping(spec.get("jobFlowTemplate")).get("spec"))
        requirements, problems = _flow_requirements(
            flow_spec, namespace, "spec.jobFlowTemplate.spec"
        )
        requirements.insert(
            0,
            Requirement(
                (Permission("create", JOBFLOW_PLURAL, namespace, group=GROUP),),
                "each scheduled run is a JobFlow",
            ),
        )
    else:
        requirements, problems = _flow_requirements(spec, namespace, "spec")
    return AccessPlan(namespace, tuple(requirements), tuple(problems))
