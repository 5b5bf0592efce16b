"""Checks of the step graph and of each step's own fields: names, duplicates, dependencies,
cycles, Job vs. Manual rules, retry durations, matrix shape, params, resource templates and
overall size. Returns the ``StepGraph`` the reference checks build on."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Final

from zenflow.api import limits
from zenflow.api.duration import DurationError, parse_duration
from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.api.limits import MAX_STEP_NAME_LENGTH
from zenflow.api.naming import step_name_problem
from zenflow.core.dag import Dag
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.template import (
    check_env,
    check_job_template,
    check_run,
    template_is_plainly_valid,
)
from zenflow.core.validation.templaterefs import check_step_template_ref
from zenflow.core.validation.values import IDENTIFIER, check_params, check_resource_templates

OUTPUT_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SHARD_SUFFIX: Final = re.compile(r"^(.*)-\d+$")


@dataclass
class StepGraph:
    """What later checks need: the steps by name, and the two DAGs."""

    steps: dict[str, Step] = field(default_factory=dict)
    regular: Dag = field(default_factory=lambda: Dag.from_edges((), {}))
    final: Dag = field(default_factory=lambda: Dag.from_edges((), {}))
    finally_names: frozenset[str] = frozenset()
    where: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Step name → (section, index) of its first occurrence."""

    def path_of(self, name: str, *, root: str) -> str:
        section, index = self.where[name]
        return f"{root}.{section}[{index}]"


@dataclass(frozen=True)
class GraphStep:
    """Just what the graph checks need of a step (also built from raw dicts when the spec does
    not parse, so name and dependency problems are reported together with structural ones)."""

    name: str
    dependencies: Sequence[str]


def check_steps(spec: JobFlowSpec, *, path: str, out: Collector) -> StepGraph:
    graph = check_graph(spec.steps, spec.finally_, path=path, out=out)
    every = [*spec.steps, *spec.finally_]
    graph.steps = {s.name: s for s in reversed(every)}  # the first of a name wins
    pod_failure_policy = spec.execution_policy.pod_failure_policy is not None
    for section, steps in (("steps", spec.steps), ("finally", spec.finally_)):
        for i, step in enumerate(steps):
            if _plain_step(step, pod_failure_policy=pod_failure_policy):
                continue
            _check_step_fields(
                step, path=f"{path}.{section}[{i}]", pod_failure_policy=pod_failure_policy, out=out
            )
    if any(s.matrix is not None for s in every):
        located = [(f"{path}.steps[{i}]", s) for i, s in enumerate(spec.steps)]
        located += [(f"{path}.finally[{i}]", s) for i, s in enumerate(spec.finally_)]
        _check_shard_name_clashes(located, out=out)
    check_params(spec.params, path=f"{path}.params", out=out)
    check_env(spec.env, path=f"{path}.env", out=out)
    if spec.resource_templates is not None:
        check_resource_templates(spec.resource_templates, path=f"{path}.resourceTemplates", out=out)
    policy = spec.execution_policy.pod_failure_policy
    if policy is not None and not isinstance(policy.get("rules"), list):
        out.error(
            f"{path}.executionPolicy.podFailurePolicy.rules",
            "required: a list of batch/v1 podFailurePolicy rules",
        )
    return graph


def check_graph(
    regular: Sequence[GraphStep | Step],
    final: Sequence[GraphStep | Step],
    *,
    path: str,
    out: Collector,
) -> StepGraph:
    """Names (valid, unique across steps and finally), dependencies (known, not self, finally
    only on finally) and cycles, one error each, in O(steps + dependencies). The common, valid
    case is decided by whole-list operations in C; per-step Python runs only for steps with
    dependencies and for reporting problems."""
    graph = StepGraph()
    if not regular:
        out.error(f"{path}.steps", "at least one step is required")
    regular_names = [s.name for s in regular]
    final_names = [s.name for s in final]
    regular_set = set(regular_names)
    finally_set = frozenset(final_names) - regular_set
    graph.finally_names = finally_set
    where = {n: ("finally", i) for i, n in reversed(list(enumerate(final_names)))}
    where.update({n: ("steps", i) for i, n in reversed(list(enumerate(regular_names)))})
    graph.where = where
    all_names = regular_names + final_names
    unique = len(where) == len(all_names)
    if not unique or not _ALL_STEP_NAMES.fullmatch("\n".join(all_names)):
        _report_names(regular_names, final_names, path=path, out=out)
    sections = (
        ("steps", regular, regular_names, regular_set, finally_set, False),
        ("finally", final, final_names, finally_set, regular_set, True),
    )
    dags = []
    for section, steps, names, allowed, other, in_finally in sections:
        if unique:
            fast = _clean_dag(names, [s.dependencies for s in steps], allowed=allowed)
            if fast is not None:
                dags.append(fast)
                continue
        deps_of: dict[str, tuple[str, ...]] = {}
        for i, step in enumerate(steps):
            name = step.name
            deps = step.dependencies
            kept: Sequence[str] = ()
            if deps:
                # Fast path: every dependency known, none repeated, none on itself.
                if name in deps or len(set(deps)) != len(deps) or not allowed.issuperset(deps):
                    _check_dependencies(
                        step,
                        path=f"{path}.{section}[{i}]",
                        allowed=allowed,
                        other=other,
                        in_finally=in_finally,
                        out=out,
                    )
                    kept = [d for d in dict.fromkeys(deps) if d in allowed and d != name]
                else:
                    kept = deps
            if name in allowed and name not in deps_of:
                deps_of[name] = tuple(kept)
        dags.append(Dag.from_clean_edges(deps_of))
    graph.regular, graph.final = dags
    for dag in dags:
        for cycle in dag.find_cycles():
            out.error(
                f"{graph.path_of(cycle[0], root=path)}.dependencies",
                "dependency cycle: " + " -> ".join(cycle),
            )
    return graph


def _clean_dag(
    names: list[str], deps_lists: list[Sequence[str]], *, allowed: set[str] | frozenset[str]
) -> Dag | None:
    """The DAG when every dependency is known, none repeated and none on itself (decided with
    whole-list operations), else None. Steps that depend only on earlier steps - the usual way
    flows are written - prove it acyclic without a cycle search."""
    if not allowed.issuperset(d for deps in deps_lists for d in deps):
        return None
    if any(name in deps for name, deps in zip(names, deps_lists, strict=True)):
        return None
    if not all(len(set(deps)) == len(deps) for deps in deps_lists if len(deps) > 1):
        return None
    position = {name: i for i, name in enumerate(names)}
    forward = all(position[d] < i for i, deps in enumerate(deps_lists) for d in deps)
    edges = dict(zip(names, map(tuple, deps_lists), strict=True))
    return Dag.from_clean_edges(edges, acyclic=forward)


# Every name valid: one match over all names joined by newlines (no name contains one).
_STEP_NAME_RE: Final = rf"[a-z](?:[-a-z0-9]{{0,{MAX_STEP_NAME_LENGTH - 2}}}[a-z0-9])?"
_ALL_STEP_NAMES: Final = re.compile(rf"{_STEP_NAME_RE}(?:\n{_STEP_NAME_RE})*")


def _report_names(
    regular_names: list[str], final_names: list[str], *, path: str, out: Collector
) -> None:
    """The slow path: which names are invalid or repeated."""
    first: dict[str, str] = {}
    located = [(f"{path}.steps[{i}]", n) for i, n in enumerate(regular_names)]
    located += [(f"{path}.finally[{i}]", n) for i, n in enumerate(final_names)]
    for here, name in located:
        problem = step_name_problem(name)
        if problem:
            out.error(f"{here}.name", f"invalid step name {name!r}: {problem}")
        if name in first:
            out.error(f"{here}.name", f'duplicate step name "{name}" (also {first[name]}.name)')
        else:
            first[name] = here


def _check_dependencies(
    step: GraphStep | Step,
    *,
    path: str,
    allowed: set[str] | frozenset[str],
    other: set[str] | frozenset[str],
    in_finally: bool,
    out: Collector,
) -> None:
    seen: set[str] = set()
    for j, dep in enumerate(step.dependencies):
        here = f"{path}.dependencies[{j}]"
        if dep == step.name:
            out.error(here, f'step "{step.name}" cannot depend on itself')
        elif dep in seen:
            out.warn(here, f'"{dep}" is listed twice')
        elif dep in other:
            if in_finally:
                out.error(
                    here,
                    "finally steps run after every step; depend only on finally steps, "
                    f'not "{dep}"',
                )
            else:
                out.error(here, f'a step cannot depend on the finally step "{dep}"')
        elif dep not in allowed:
            message = f'unknown step "{dep}"'
            close = difflib.get_close_matches(dep, list(allowed), n=1, cutoff=0.6)
            if close:
                message += f' (did you mean "{close[0]}"?)'
            out.error(here, message)
        seen.add(dep)


def _check_step_fields(step: Step, *, path: str, pod_failure_policy: bool, out: Collector) -> None:
    if step.template_ref is not None or step.params:
        check_step_template_ref(step, path=path, out=out)
    if step.type == "Manual":
        for name, value in (("template", step.template), ("run", step.run)):
            if value is not None:
                out.error(f"{path}.{name}", "a Manual step runs nothing: remove it")
        if step.matrix is not None:
            out.error(f"{path}.matrix", "a Manual step cannot have a matrix")
        if step.outputs:
            out.error(f"{path}.outputs", "a Manual step produces no outputs")
        if step.retry_policy is not None:
            out.warn(f"{path}.retryPolicy", "has no effect on a Manual step")
        if step.timeout_seconds is not None:
            out.warn(f"{path}.timeoutSeconds", "has no effect on a Manual step")
    else:
        if step.template_ref is not None:
            pass  # template or run come from the template (check_step_template_ref)
        elif step.template is None and step.run is None:
            out.error(path, "a Job step needs either template or run")
        elif step.template is not None and step.run is not None:
            out.error(f"{path}.run", "set either template or run, not both")
        if step.message is not None:
            out.warn(f"{path}.message", "is only shown for Manual steps")
        if step.template is not None:
            check_job_template(
                step.template,
                path=f"{path}.template",
                pod_failure_policy=pod_failure_policy,
                out=out,
            )
        if step.run is not None:
            check_run(step.run, path=f"{path}.run", out=out)
    if step.retry_policy is not None and step.retry_policy.backoff is not None:
        backoff = step.retry_policy.backoff
        bpath = f"{path}.retryPolicy.backoff"
        base = _duration(backoff.duration, path=f"{bpath}.duration", out=out)
        cap = None
        if backoff.max_duration is not None:
            cap = _duration(backoff.max_duration, path=f"{bpath}.maxDuration", out=out)
        if base is not None and cap is not None and cap < base:
            out.warn(f"{bpath}.maxDuration", "is shorter than duration, so every delay is capped")
        if backoff.factor is not None and backoff.type != "Exponential":
            out.warn(f"{bpath}.factor", f"is only used by Exponential backoff, not {backoff.type}")
        if step.retry_policy.limit == 0:
            out.warn(f"{path}.retryPolicy.limit", "is 0, so the backoff is never used")
    if step.outputs:
        _check_outputs(step, path=path, out=out)
    if step.inputs:
        _check_names(
            [i.name for i in step.inputs],
            path=f"{path}.inputs",
            what="input",
            pattern=IDENTIFIER,
            out=out,
        )
    if step.matrix is not None:
        _check_matrix(step, path=f"{path}.matrix", out=out)
    if step.metadata is not None and step.metadata.labels:
        for key, label in step.metadata.labels.items():
            if len(label) > 63:
                out.error(f"{path}.metadata.labels.{key}", "label values are at most 63 chars")


def _plain_step(step: Step, *, pod_failure_policy: bool) -> bool:
    """True when ``_check_step_fields`` would report nothing about ``step``: a Job step with
    only a plain ``run`` or a plainly valid ``template`` (the common steps), decided without
    building the step's field paths. False means "run the full check"."""
    if (
        step.type != "Job"
        or step.message is not None
        or step.retry_policy is not None
        or step.matrix is not None
        or step.metadata is not None
        or step.inputs
        or step.template_ref is not None
        or step.params
        or (step.outputs and not _plain_outputs(step))
    ):
        return False
    run, template = step.run, step.template
    if template is None:
        return (
            run is not None and run.script is None and run.env is None and bool(run.image.strip())
        )
    return run is None and template_is_plainly_valid(
        template, pod_failure_policy=pod_failure_policy
    )


def _plain_outputs(step: Step) -> bool:
    """True when ``_check_outputs`` would find nothing: valid, distinct names, default source."""
    names = [o.name for o in step.outputs]
    return (
        len(set(names)) == len(names)
        and all(OUTPUT_NAME.match(n) for n in names)
        and all(o.value_from is None for o in step.outputs)
    )


def _check_outputs(step: Step, *, path: str, out: Collector) -> None:
    _check_names(
        [o.name for o in step.outputs],
        path=f"{path}.outputs",
        what="output",
        pattern=OUTPUT_NAME,
        out=out,
    )
    for i, output in enumerate(step.outputs):
        source = output.value_from
        if source is not None and (source.termination_message is None) == (
            source.json_path is None
        ):
            out.error(
                f"{path}.outputs[{i}].valueFrom",
                "set exactly one of terminationMessage or jsonPath",
            )


def _check_names(
    names: Sequence[str], *, path: str, what: str, pattern: re.Pattern[str], out: Collector
) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not pattern.match(name):
            allowed = (
                "letters, digits, '_' and '-'"
                if pattern is OUTPUT_NAME
                else "letters, digits and '_'"
            )
            out.error(
                f"{path}[{i}].name",
                f"invalid {what} name {name!r}: {allowed}, not starting with a digit",
            )
        if name in seen:
            out.error(f"{path}[{i}].name", f"duplicate {what} name {name!r}")
        seen.add(name)


def _check_matrix(step: Step, *, path: str, out: Collector) -> None:
    matrix = step.matrix
    assert matrix is not None
    values = matrix.values or {}
    sources = matrix.from_ or {}
    if not values and not sources:
        out.error(path, "a matrix needs at least one key in values or from")
    if len(values) + len(sources) > limits.MAX_MATRIX_KEYS:
        out.error(path, f"at most {limits.MAX_MATRIX_KEYS} keys are allowed")
    for key, items in values.items():
        here = f"{path}.values.{key}"
        if not IDENTIFIER.match(key):
            out.error(here, f"invalid matrix key {key!r}: letters, digits and '_'")
        if not items:
            out.error(here, "must list at least one value")
        if len(items) > limits.MAX_MATRIX_VALUES:
            out.error(here, f"at most {limits.MAX_MATRIX_VALUES} values are allowed")
        if len({str(v) for v in items}) != len(items):
            out.warn(here, "lists a value twice, so the same Job runs twice")
    for key in sources:
        here = f"{path}.from.{key}"
        if not IDENTIFIER.match(key):
            out.error(here, f"invalid matrix key {key!r}: letters, digits and '_'")
        if key in values:
            out.error(here, f"key {key!r} is also in values")
    shards = prod(len(v) for v in values.values()) if values else 1
    if shards > limits.MAX_MATRIX_SHARDS:
        out.error(
            path,
            f"expands to {shards} Jobs; at most {limits.MAX_MATRIX_SHARDS} are allowed",
        )


def _check_shard_name_clashes(located: list[tuple[str, Step]], *, out: Collector) -> None:
    """A step named ``<matrix step>-<n>`` could share Job names with that step's shards."""
    matrix_steps = {s.name for _, s in located if s.matrix is not None}
    if not matrix_steps:
        return
    for here, step in located:
        match = _SHARD_SUFFIX.match(step.name)
        if match and match.group(1) in matrix_steps:
            out.error(
                f"{here}.name",
                f'"{step.name}" clashes with the Job names of matrix step "{match.group(1)}"; '
                "choose another name",
            )


def _duration(text: str, *, path: str, out: Collector) -> float | None:
    try:
        return parse_duration(text)
    except DurationError as exc:
        out.error(path, str(exc))
        return None
