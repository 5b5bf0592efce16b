"""Checks that a step's ``template`` is a usable batch/v1 Job, and that ``run`` is coherent.

Only what zenflow relies on, and what the API server would otherwise reject only when the
controller creates the Job (long after the flow was accepted), is checked: the Job/pod/container
shape, restartPolicy, and fields zenflow owns. Everything else is passed through to the Job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.naming import is_dns1123_label
from zenflow.api.step import RunSpec
from zenflow.core.validation.problems import Collector

JOB_RESTART_POLICIES: Final = ("Never", "OnFailure")
_NON_NEGATIVE_JOB_FIELDS: Final = ("parallelism", "completions", "backoffLimit")
_JOB_INT_FIELDS: Final = (*((k, 0) for k in _NON_NEGATIVE_JOB_FIELDS), ("activeDeadlineSeconds", 1))
_JOB_INT_KEYS: Final = frozenset(key for key, _ in _JOB_INT_FIELDS)
_OWNED_METADATA: Final = frozenset({"name", "generateName", "namespace"})


def check_job_template(
    template: Mapping[str, Any], *, path: str, pod_failure_policy: bool, out: Collector
) -> None:
    """``template`` is a Job object (apiVersion/kind optional) whose pod zenflow can run."""
    if template_is_plainly_valid(template, pod_failure_policy=pod_failure_policy):
        return
    api_version = template.get("apiVersion")
    if api_version is not None and api_version != "batch/v1":
        out.error(f"{path}.apiVersion", f'must be "batch/v1" when set, got {api_version!r}')
    kind = template.get("kind")
    if kind is not None and kind != "Job":
        out.error(f"{path}.kind", f'must be "Job" when set, got {kind!r}')
    metadata = template.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            out.error(f"{path}.metadata", "must be an object")
        else:
            for ignored in ("name", "generateName", "namespace"):
                if ignored in metadata:
                    out.warn(
                        f"{path}.metadata.{ignored}",
                        "is ignored: zenflow names each Job and creates it in the flow's namespace",
                    )
    spec = _mapping(template, "spec", path=path, out=out)
    if spec is None:
        return
    spec_path = f"{path}.spec"
    for key in _NON_NEGATIVE_JOB_FIELDS:
        _int_field(spec, key, path=spec_path, minimum=0, out=out)
    _int_field(spec, "activeDeadlineSeconds", path=spec_path, minimum=1, out=out)
    if "selector" in spec or spec.get("manualSelector"):
        out.error(f"{spec_path}.selector", "must not be set: the Job controller generates it")
    pod = _mapping(spec, "template", path=spec_path, out=out)
    if pod is None:
        return
    pod_spec = _mapping(pod, "spec", path=f"{spec_path}.template", out=out)
    if pod_spec is None:
        return
    check_pod_spec(
        pod_spec,
        path=f"{spec_path}.template.spec",
        pod_failure_policy=pod_failure_policy or "podFailurePolicy" in spec,
        out=out,
    )


def template_is_plainly_valid(template: Mapping[str, Any], *, pod_failure_policy: bool) -> bool:
    """Fast accept, without building field paths: True only when ``check_job_template`` would
    report nothing. False means "run the full check", which names every problem. (A property
    test keeps the two in step.)"""
    if template.get("apiVersion", "batch/v1") != "batch/v1" or template.get("kind", "Job") != "Job":
        return False
    metadata = template.get("metadata")
    if metadata is not None and (type(metadata) is not dict or _OWNED_METADATA & metadata.keys()):
        return False
    spec = template.get("spec")
    if type(spec) is not dict or "selector" in spec or spec.get("manualSelector"):
        return False
    if not _JOB_INT_KEYS.isdisjoint(spec):  # most templates set none of them
        for key, minimum in _JOB_INT_FIELDS:
            value = spec.get(key)
            if value is not None and (type(value) is not int or value < minimum):
                return False
    pod = spec.get("template")
    pod_spec = pod.get("spec") if type(pod) is dict else None
    if type(pod_spec) is not dict or "initContainers" in pod_spec:
        return False
    restart = pod_spec.get("restartPolicy")
    if restart is not None and restart not in JOB_RESTART_POLICIES:
        return False
    if restart == "OnFailure" and (pod_failure_policy or "podFailurePolicy" in spec):
        return False
    containers = pod_spec.get("containers")
    if type(containers) is not list or not containers:
        return False
    names: set[str] = set()
    for container in containers:
        if type(container) is not dict or container.get("env") is not None:
            return False
        name = container.get("name")
        if type(name) is not str or name in names or not is_dns1123_label(name):
            return False
        names.add(name)
        image = container.get("image")
        if type(image) is not str or not image.strip():
            return False
        for key in ("command", "args"):
            value = container.get(key)
            if value is not None and (type(value) is not list or not _all_strings(value)):
                return False
    return True


def _all_strings(values: list[Any]) -> bool:
    try:
        "".join(values)  # C speed; raises TypeError at the first non-string
    except TypeError:
        return False
    return True


def check_pod_spec(
    pod_spec: Mapping[str, Any], *, path: str, pod_failure_policy: bool, out: Collector
) -> None:
    restart = pod_spec.get("restartPolicy")
    if restart is not None and restart not in JOB_RESTART_POLICIES:
        out.error(
            f"{path}.restartPolicy",
            f'a Job allows only "Never" or "OnFailure", got {restart!r}',
        )
    if pod_failure_policy and restart == "OnFailure":
        out.error(
            f"{path}.restartPolicy",
            'must be "Never" when a podFailurePolicy applies (executionPolicy or the Job)',
        )
    containers = pod_spec.get("containers")
    if containers is None:
        out.error(f"{path}.containers", "a Job needs at least one container")
    elif not isinstance(containers, list) or not containers:
        out.error(f"{path}.containers", "must be a non-empty list of containers")
    else:
        _check_containers(containers, path=f"{path}.containers", require_image=True, out=out)
    init = pod_spec.get("initContainers")
    if init is not None:
        if not isinstance(init, list):
            out.error(f"{path}.initContainers", "must be a list")
        else:
            _check_containers(init, path=f"{path}.initContainers", require_image=True, out=out)


def check_run(run: RunSpec, *, path: str, out: Collector) -> None:
    if not run.image.strip():
        out.error(f"{path}.image", "must not be empty")
    if run.command is not None and run.script is not None:
        out.error(f"{path}.script", "set either command or script, not both")
    if run.script is not None and run.args:
        out.error(f"{path}.args", "args cannot be combined with script")
    if run.env is not None:
        check_env(run.env, path=f"{path}.env", out=out)


def check_env(env: list[Any], *, path: str, out: Collector) -> None:
    seen: set[str] = set()
    for i, var in enumerate(env):
        here = f"{path}[{i}]"
        if not isinstance(var, Mapping):
            out.error(here, "must be an object with name and value or valueFrom")
            continue
        name = var.get("name")
        if not isinstance(name, str) or not name:
            out.error(f"{here}.name", "required: the variable's name")
        elif name in seen:
            out.warn(f"{here}.name", f"variable {name!r} is set twice; the last one wins")
        else:
            seen.add(name)
        if "value" in var and "valueFrom" in var:
            out.error(here, "set either value or valueFrom, not both")
        value = var.get("value")
        if value is not None and not isinstance(value, str):
            out.error(f"{here}.value", "must be a string (quote numbers and booleans)")


def _check_containers(
    containers: list[Any], *, path: str, require_image: bool, out: Collector
) -> None:
    names: set[str] = set()
    for i, container in enumerate(containers):
        here = f"{path}[{i}]"
        if not isinstance(container, Mapping):
            out.error(here, "must be an object")
            continue
        name = container.get("name")
        if not isinstance(name, str) or not is_dns1123_label(name):
            out.error(f"{here}.name", f"must be a DNS-1123 label, got {name!r}")
        elif name in names:
            out.error(f"{here}.name", f"duplicate container name {name!r}")
        else:
            names.add(name)
        image = container.get("image")
        if require_image and (not isinstance(image, str) or not image.strip()):
            out.error(f"{here}.image", "required: the container image")
        for key in ("command", "args"):
            value = container.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                out.error(f"{here}.{key}", "must be a list of strings")
        env = container.get("env")
        if env is not None:
            if isinstance(env, list):
                check_env(env, path=f"{here}.env", out=out)
            else:
                out.error(f"{here}.env", "must be a list")


def _mapping(
    parent: Mapping[str, Any], key: str, *, path: str, out: Collector
) -> Mapping[str, Any] | None:
    value = parent.get(key)
    if value is None:
        out.error(f"{path}.{key}", "required field is missing")
        return None
    if not isinstance(value, Mapping):
        out.error(f"{path}.{key}", "must be an object")
        return None
    return value


def _int_field(
    parent: Mapping[str, Any], key: str, *, path: str, minimum: int, out: Collector
) -> None:
    value = parent.get(key)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        out.error(f"{path}.{key}", f"must be an integer, got {value!r}")
    elif value < minimum:
        out.error(f"{path}.{key}", f"must be >= {minimum}, got {value}")
