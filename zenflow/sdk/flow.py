"""``Flow``: a JobFlow declared in Python, built on the API's own pydantic models.

Every builder call produces the model the YAML would (``zenflow.api.jobflow.Step``, ``Param``,
…), so a flow built here and its YAML twin are equal models, render to the same wire form, and
are checked by the one validator (``zenflow.core.validation``) the webhook, the controller and
``zenflow validate`` run.

Invariants: step and param names are unique (a duplicate is refused at once, naming it); a
field of the wrong shape is refused at once with the model's message naming the step and the
field; whatever the models accept but the validator refuses (an unknown dependency, a cycle, a
bad ``when``) is reported by ``validate()``/``check()`` and refused by ``submit``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from zenflow.api.jobflow import (
    Backoff,
    ExecutionPolicy,
    JobFlow,
    JobFlowSpec,
    MatrixValue,
    Param,
    RetryPolicy,
    Step,
    StepOutput,
)
from zenflow.api.notification import Notification
from zenflow.core.validation.problems import ValidationReport
from zenflow.core.validation.validator import validate_object
from zenflow.sdk.errors import FlowDefinitionError, FlowInvalidError
from zenflow.sdk.pytask import task_command
from zenflow.sdk.refs import MatrixRef, OutputRef, ParamRef, StepRef

__all__ = ["Flow", "output"]

M = TypeVar("M", Step, Param, JobFlowSpec)
After = Sequence[StepRef | str]
Text = str | ParamRef | OutputRef | MatrixRef
"""A string field's value: plain text, or a reference rendered as its ``{{ }}`` template."""
MatrixSpec = Mapping[str, Sequence[MatrixValue] | OutputRef | str]
"""Per matrix key: a list of values, or (an upstream output holding) a JSON list."""


def output(
    name: str,
    *,
    key: str | None = None,
    json_path: str | None = None,
    description: str | None = None,
) -> StepOutput:
    """An output parameter: by default the key ``name`` of the container's JSON termination
    message; ``key`` names another key, ``json_path`` reads the finished Job instead."""
    value_from: dict[str, Any] | None = None
    if key is not None:
        value_from = {"terminationMessage": {"key": key}}
    if json_path is not None:
        value_from = {**(value_from or {}), "jsonPath": json_path}
    return StepOutput.model_validate(
        {"name": name, "valueFrom": value_from, "description": description}
    )


def _text(value: Text) -> str:
    return str(value)


def _env(env: Mapping[str, Text] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``{NAME: value}`` → core/v1 EnvVar list; a list of EnvVar dicts is kept as given."""
    if isinstance(env, Mapping):
        return [{"name": k, "value": _text(v)} for k, v in env.items()]
    return [dict(item) for item in env]


class Flow:
    """A JobFlow under construction. ``name`` (or ``generate_name``) is the object's name;
    ``namespace`` is optional (the client's namespace is used when submitting)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        generate_name: str | None = None,
        namespace: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        env: Mapping[str, Text] | Sequence[Mapping[str, Any]] | None = None,
        execution_policy: ExecutionPolicy | Mapping[str, Any] | None = None,
        resource_templates: Mapping[str, Any] | None = None,
        notifications: Sequence[Notification | Mapping[str, Any]] | None = None,
        suspend: bool = False,
    ) -> None:
        if not name and not generate_name:
            raise FlowDefinitionError("a Flow needs a name or a generate_name")
        self._metadata: dict[str, Any] = {}
        for key, value in (
            ("name", name),
            ("generateName", generate_name),
            ("namespace", namespace),
            ("labels", dict(labels) if labels else None),
            ("annotations", dict(annotations) if annotations else None),
        ):
            if value:
                self._metadata[key] = value
        self._params: list[Param] = []
        self._steps: list[Step] = []
        self._finally: list[Step] = []
        self._spec_extra: dict[str, Any] = {"suspend": suspend}
        if env:
            self._spec_extra["env"] = _env(env)
        if execution_policy is not None:
            self._spec_extra["executionPolicy"] = (
                execution_policy
                if isinstance(execution_policy, ExecutionPolicy)
                else ExecutionPolicy.model_validate(dict(execution_policy))
            )
        if resource_templates is not None:
            self._spec_extra["resourceTemplates"] = dict(resource_templates)
        if notifications:
            self._spec_extra["notifications"] = [
                n if isinstance(n, Notification) else Notification.model_validate(dict(n))
                for n in notifications
            ]

    @property
    def name(self) -> str:
        return str(self._metadata.get("name") or self._metadata.get("generateName") or "")

    # -- declaring ---------------------------------------------------------------------------

    def param(
        self,
        name: str,
        *,
        default: str | int | float | bool | None = None,
        value: str | int | float | bool | None = None,
        description: str | None = None,
        required: bool = False,
        enum: Sequence[str] | None = None,
    ) -> ParamRef:
        """Declare ``spec.params[]``; returns the reference to use in steps and ``when``."""
        if any(p.name == name for p in self._params):
            raise FlowDefinitionError(f"param {name!r} is declared twice")
        fields = {
            "name": name,
            "default": default,
            "value": value,
            "description": description,
            "required": required,
            "enum": list(enum) if enum is not None else None,
        }
        self._params.append(self._model(Param, fields, f"param {name!r}"))
        return ParamRef(name)

    def step(
        self,
        name: str,
        *,
        image: str | None = None,
        command: Sequence[Text] | None = None,
        args: Sequence[Text] | None = None,
        script: Text | None = None,
        env: Mapping[str, Text] | Sequence[Mapping[str, Any]] | None = None,
        template: Mapping[str, Any] | None = None,
        after: After = (),
        when: str | None = None,
        inputs: Mapping[str, Text] | None = None,
        outputs: Sequence[str | StepOutput] = (),
        matrix: MatrixSpec | None = None,
        max_parallel: int | None = None,
        retries: int | RetryPolicy | None = None,
        backoff: str | Backoff | None = None,
        timeout_seconds: int | None = None,
        continue_on_failure: bool = False,
        final: bool = False,
        **fields: Any,
    ) -> StepRef:
        """Add a step that runs a container (``image`` + ``command``/``args`` or ``script``:
        the ``run`` shorthand) or a full batch/v1 Job (``template``). ``after`` lists the
        steps it depends on; ``final=True`` puts it in ``spec.finally``. Any other Step field
        (``metadata``, …) may be given by its Python or wire name in ``fields``."""
        body: dict[str, Any] = {"name": name, **fields}
        if image is not None:
            run: dict[str, Any] = {"image": image}
            if command is not None:
                run["command"] = [_text(c) for c in command]
            if args is not None:
                run["args"] = [_text(a) for a in args]
            if script is not None:
                run["script"] = _text(script)
            if env:
                run["env"] = _env(env)
            body["run"] = run
        elif command is not None or args is not None or script is not None or env:
            raise FlowDefinitionError(
                f"step {name!r}: command, args, script and env need an image (or use template)"
            )
        if template is not None:
            body["template"] = dict(template)
        if after:
            body["dependencies"] = [str(dep) for dep in after]
        if when is not None:
            body["when"] = str(when)
        if inputs:
            body["inputs"] = [{"name": k, "value": _text(v)} for k, v in inputs.items()]
        if outputs:
            body["outputs"] = [
                {"name": o}
                if isinstance(o, str)
                else o.model_dump(by_alias=True, exclude_none=True)
                for o in outputs
            ]
        if matrix is not None:
            body["matrix"] = _matrix(matrix, max_parallel)
        elif max_parallel is not None:
            raise FlowDefinitionError(f"step {name!r}: max_parallel needs a matrix")
        if retries is not None or backoff is not None:
            body["retryPolicy"] = _retry(retries, backoff)
        if timeout_seconds is not None:
            body["timeoutSeconds"] = timeout_seconds
        if continue_on_failure:
            body["continueOnFailure"] = True
        return self._add(body, final=final)

    def gate(
        self,
        name: str,
        *,
        message: str | None = None,
        after: After = (),
        when: str | None = None,
        final: bool = False,
        **fields: Any,
    ) -> StepRef:
        """Add a Manual approval gate: it runs nothing and waits (phase Waiting) until it is
        approved. ``fields`` may carry an ``approval`` policy."""
        body: dict[str, Any] = {"name": name, "type": "Manual", **fields}
        if message is not None:
            body["message"] = message
        if after:
            body["dependencies"] = [str(dep) for dep in after]
        if when is not None:
            body["when"] = str(when)
        return self._add(body, final=final)

    def task(
        self,
        name: str | None = None,
        *,
        image: str = "python:3.13-slim",
        python: str = "python3",
        after: After = (),
        inputs: Mapping[str, Text] | None = None,
        outputs: Sequence[str | StepOutput] = (),
        **options: Any,
    ) -> Callable[[Callable[..., Any]], StepRef]:
        """Decorator: a Python function becomes a step that runs it with ``python -c``. Its
        parameters are read from the environment (give each one in ``inputs``); a dict it
        returns is written as the JSON termination message, so its keys are the step's
        ``outputs``. The step is named after the function (``_`` → ``-``) unless ``name``
        is given; the decorated name is bound to the step's ``StepRef``."""

        def register(fn: Callable[..., Any]) -> StepRef:
            step_name = name or fn.__name__.replace("_", "-")
            try:
                command = task_command(fn, python=python, inputs=list(inputs or {}))
            except ValueError as exc:
                raise FlowDefinitionError(f"step {step_name!r}: {exc}") from None
            return self.step(
                step_name,
                image=image,
                command=command,
                after=after,
                inputs=inputs,
                outputs=outputs,
                **options,
            )

        return register

    # -- rendering and checking ----------------------------------------------------------------

    def to_model(self) -> JobFlow:
        """The JobFlow model (what ``JobFlow.parse`` of the YAML twin gives)."""
        if not self._steps:
            raise FlowDefinitionError(f"flow {self.name!r} has no steps")
        spec = self._model(
            JobFlowSpec,
            {
                "steps": self._steps,
                "finally": self._finally,
                "params": self._params,
                **self._spec_extra,
            },
            "spec",
        )
        return JobFlow(metadata=dict(self._metadata), spec=spec)

    def to_dict(self) -> dict[str, Any]:
        """The wire form, compact: fields left at their defaults are omitted."""
        model = self.to_model()
        spec = model.spec.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        )
        # Params first, steps last: the order a reader of the YAML expects.
        order = {"params": 0, "steps": 2, "finally": 3}
        return {
            "apiVersion": model.api_version,
            "kind": model.kind,
            "metadata": dict(model.metadata),
            "spec": dict(sorted(spec.items(), key=lambda kv: order.get(kv[0], 1))),
        }

    def to_yaml(self) -> str:
        """The YAML to ``kubectl apply`` (or to keep as the flow's twin in a repository);
        multi-line strings (scripts) are written as literal blocks."""
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, width=100)

    def validate(self) -> ValidationReport:
        """Every problem the shared validator finds (errors and warnings); never raises for
        an invalid flow."""
        return validate_object(self.to_dict())

    def check(self) -> ValidationReport:
        """``validate``, raising ``FlowInvalidError`` if there is any error; returns the report
        (its warnings) otherwise."""
        report = self.validate()
        if not report.ok:
            raise FlowInvalidError(self.name, report)
        return report

    # -- internals -----------------------------------------------------------------------------

    def _add(self, body: dict[str, Any], *, final: bool) -> StepRef:
        name = str(body["name"])
        if any(s.name == name for s in (*self._steps, *self._finally)):
            raise FlowDefinitionError(f"step {name!r} is declared twice")
        step = self._model(Step, body, f"step {name!r}")
        (self._finally if final else self._steps).append(step)
        return StepRef(name)

    @staticmethod
    def _model(kind: type[M], body: Mapping[str, Any], what: str) -> M:
        try:
            return kind.model_validate({k: v for k, v in body.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                ".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors()
            )
            raise FlowDefinitionError(f"{what}: {problems}") from None


class _Dumper(yaml.SafeDumper):
    """Safe YAML whose multi-line strings are literal blocks (``|``)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not any(c in value for c in "\t\r") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _matrix(matrix: MatrixSpec, max_parallel: int | None) -> dict[str, Any]:
    values: dict[str, list[MatrixValue]] = {}
    from_: dict[str, str] = {}
    for key, spec in matrix.items():
        if isinstance(spec, OutputRef | str):
            from_[key] = str(spec)
        else:
            values[key] = list(spec)
    body: dict[str, Any] = {}
    if values:
        body["values"] = values
    if from_:
        body["from"] = from_
    if max_parallel is not None:
        body["maxParallel"] = max_parallel
    return body


def _retry(retries: int | RetryPolicy | None, backoff: str | Backoff | None) -> dict[str, Any]:
    if isinstance(retries, RetryPolicy):
        policy = retries.model_dump(by_alias=True, exclude_none=True)
    else:
        policy = {"limit": retries or 0}
    if isinstance(backoff, Backoff):
        policy["backoff"] = backoff.model_dump(by_alias=True, exclude_none=True)
    elif backoff is not None:
        policy["backoff"] = {"duration": backoff}
    return policy
