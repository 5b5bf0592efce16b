"""Checks of what steps refer to: CEL ``when`` expressions and ``{{ … }}`` references in string
fields. A reference must name a declared param, an existing step that is guaranteed to have
finished first (an ancestor; for finally steps any regular step too), a declared output, or a
key of the step's own matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic_core

from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.core import expressions, templating
from zenflow.core.dag import CycleError, Dag
from zenflow.core.validation.artifacts import artifact_ref_problem
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.steps import StepGraph
from zenflow.core.validation.texts import StepText, StepTexts


class _Ancestry:
    """Ancestor sets as int bitsets, computed once in topological order: O(n·n/64)."""

    def __init__(self, dag: Dag) -> None:
        self._dag = dag
        self._bits: dict[str, int] | None = None
        self._index = {n: i for i, n in enumerate(dag.nodes)}

    def is_ancestor(self, candidate: str, of: str) -> bool | None:
        """None when unknown (the graph has a cycle, already reported)."""
        if self._bits is None:
            try:
                order = self._dag.topological_order()
            except CycleError:
                return None
            bits: dict[str, int] = {}
            for node in order:
                acc = 0
                for dep in self._dag.dependencies(node):
                    acc |= bits[dep] | (1 << self._index[dep])
                bits[node] = acc
            self._bits = bits
        index = self._index.get(candidate)
        if index is None or of not in self._bits:
            return False
        return bool(self._bits[of] >> index & 1)


def check_references(
    spec: JobFlowSpec,
    *,
    graph: StepGraph,
    path: str,
    out: Collector,
    spec_json: str | None = None,
    raw: Mapping[str, Any] | None = None,
    texts: StepTexts | None = None,
) -> None:
    """``spec_json``/``raw``/``texts``: the spec serialized, as received, and its steps'
    texts, if the caller has them (they make the common cases cheap; results are the same
    without them)."""
    if texts is None:
        texts = StepTexts(raw)
    params = {p.name for p in spec.params}
    used_params: set[str] = set()
    checker = _Checker(graph=graph, params=params, used_params=used_params, out=out)
    if spec_json is None:
        spec_json = spec.model_dump_json(by_alias=True, exclude_none=True)
    # Fast path over the whole flow: when every {{ }} in the spec is a declared param or a flow
    # field, no per-step context matters and only `when` and matrix sources need a look.
    found, bad = templating.unique_references(spec_json)
    context_free = not bad and all(
        (r.root == "params" and r.parts[0] in params) or r.root == "flow" for r in found
    )
    if context_free:
        used_params.update(r.parts[0] for r in found if r.root == "params")
    sections = (("steps", spec.steps, False), ("finally", spec.finally_, True))
    for section, steps, in_finally in sections:
        if context_free:
            # Only `when` and matrix sources are left to check.
            indexes = [i for i, s in enumerate(steps) if s.when is not None or s.matrix]
        else:
            indexes = list(range(len(steps)))
        for i in indexes:
            step = steps[i]
            here = f"{path}.{section}[{i}]"
            if context_free or checker.step_refs_ok(texts.of(section, i, step), step, in_finally):
                checker.check_step_expressions(step, path=here, in_finally=in_finally)
            else:
                checker.check_step(step, path=here, in_finally=in_finally)
    for i, env in enumerate(spec.env):
        checker.check_strings(env, path=f"{path}.env[{i}]", step=None, in_finally=False)
    for i, param in enumerate(spec.params):
        if param.name not in used_params:
            out.warn(
                f"{path}.params[{i}]",
                f'param "{param.name}" is never used ({{{{ params.{param.name} }}}} or '
                f"params.{param.name} in when)",
            )


class _Checker:
    def __init__(
        self, *, graph: StepGraph, params: set[str], used_params: set[str], out: Collector
    ) -> None:
        self.graph = graph
        self.params = params
        self.used_params = used_params
        self.out = out
        self.regular = _Ancestry(graph.regular)
        self.final = _Ancestry(graph.final)

    def step_refs_ok(self, text: StepText, step: Step, in_finally: bool) -> bool:
        """Per-step fast path: every ``{{ }}`` in the step's text is fine (records param use).
        False means "look closer", not necessarily "wrong"."""
        return not text.errors and all(
            self._ref_problem(ref, step=step, in_finally=in_finally) is None for ref in text.refs
        )

    def check_step_expressions(self, step: Step, *, path: str, in_finally: bool) -> None:
        """The checks that do not depend on ``{{ }}`` strings: `when` and matrix sources."""
        if step.when is not None:
            self._check_when(step, path=f"{path}.when", in_finally=in_finally)
        if step.matrix is not None and step.matrix.from_:
            for key, source in step.matrix.from_.items():
                self._check_matrix_source(
                    source, path=f"{path}.matrix.from.{key}", step=step, in_finally=in_finally
                )

    def check_step(self, step: Step, *, path: str, in_finally: bool) -> None:
        if step.when is not None:
            self._check_when(step, path=f"{path}.when", in_finally=in_finally)
        if step.template is not None:
            self.check_strings(
                step.template, path=f"{path}.template", step=step, in_finally=in_finally
            )
        run = step.run
        data = pydantic_core.to_json(run) if run is not None else b""
        if run is not None and b"{{" in data:
            fields = {
                "image": run.image,
                "command": run.command,
                "args": run.args,
                "script": run.script,
                "env": run.env,
                "workingDir": run.working_dir,
                "resources": run.resources,
            }  # the wire names, for field paths in messages
            self.check_strings(
                fields, path=f"{path}.run", step=step, in_finally=in_finally, text=data.decode()
            )
        for i, item in enumerate(step.inputs):
            self.check_strings(
                item.value, path=f"{path}.inputs[{i}].value", step=step, in_finally=in_finally
            )
        if step.message is not None:
            self.check_strings(
                step.message, path=f"{path}.message", step=step, in_finally=in_finally
            )
        if step.matrix is not None and step.matrix.from_:
            for key, source in step.matrix.from_.items():
                self._check_matrix_source(
                    source, path=f"{path}.matrix.from.{key}", step=step, in_finally=in_finally
                )

    def check_strings(
        self,
        tree: Any,
        *,
        path: str,
        step: Step | None,
        in_finally: bool,
        text: str | None = None,
    ) -> None:
        """Check the references in every string of ``tree`` (``text``: its JSON, if known).

        Fast path: scan the JSON text (serialized in C) for references and check them without
        field paths. Only when that finds a problem is the tree walked to name the fields."""
        if text is not None:
            pass
        elif isinstance(tree, str):
            text = tree
        else:
            data = pydantic_core.to_json(tree, fallback=str)
            if b"{{" not in data:
                return
            text = data.decode()
        if "{{" not in text:
            return
        found, bad = templating.parse_references(text)
        if not bad and all(
            self._ref_problem(ref, step=step, in_finally=in_finally) is None for ref in found
        ):
            return
        refs, errors = templating.find_references(tree, path)
        for where, message in errors:
            self.out.error(where, message)
        for where, ref in refs:
            problem = self._ref_problem(ref, step=step, in_finally=in_finally)
            if problem is not None:
                self.out.error(where, problem)

    def _ref_problem(
        self, ref: templating.Reference, *, step: Step | None, in_finally: bool
    ) -> str | None:
        """What is wrong with one ``{{ }}`` reference, or None (records param use)."""
        if ref.root == "params":
            return self._param(ref.parts[0], shown=ref.text)
        if ref.root == "matrix":
            keys = _matrix_keys(step)
            if ref.parts[0] not in keys:
                where = "this step's matrix" if keys else "a step without a matrix"
                return f"{ref.text}: no matrix key {ref.parts[0]!r} in {where}"
        elif ref.root == "steps":
            output = ref.parts[2] if ref.parts[1] == "outputs" else None
            problem = self._step(
                ref.parts[0], output, shown=ref.text, step=step, in_finally=in_finally
            )
            if problem is None and ref.parts[1] == "artifacts":
                return artifact_ref_problem(self.graph.steps[ref.parts[0]], ref.parts[2], ref.text)
            return problem
        elif ref.root == "step" and step is None:
            return f"{ref.text} is only available inside a step"
        return None

    def _check_when(self, step: Step, *, path: str, in_finally: bool) -> None:
        assert step.when is not None
        try:
            compiled = expressions.compile_expression(step.when)
        except expressions.ExpressionError as exc:
            self.out.error(path, str(exc))
            return
        for root in compiled.unknown_roots:
            self.out.error(path, f"unknown variable {root!r}: use params, steps or flow")
        for function in compiled.unknown_functions:
            self.out.error(path, f"unknown function {function!r}")
        for ref in compiled.references:
            if ref.root == "params":
                if ref.name is not None:
                    self._report(path, self._param(ref.name, shown=f"params.{ref.name}"))
                else:
                    self.used_params.update(self.params)
            elif ref.root == "flow":
                if ref.field is not None and ref.field not in expressions.FLOW_FIELDS:
                    self.out.error(path, f"flow has no field {ref.field!r} (name, namespace, uid)")
            elif ref.name is not None:
                if ref.field is not None and ref.field not in expressions.STEP_FIELDS:
                    self.out.error(
                        path,
                        f"steps.{ref.name} has no field {ref.field!r} (phase, outputs, retries)",
                    )
                output = ref.key if ref.field == "outputs" else None
                problem = self._step(
                    ref.name, output, shown=f"steps.{ref.name}", step=step, in_finally=in_finally
                )
                self._report(path, problem)

    def _check_matrix_source(self, source: str, *, path: str, step: Step, in_finally: bool) -> None:
        refs, errors = templating.parse_references(source)
        for message in errors:
            self.out.error(path, message)
        if errors:
            return
        if (
            len(refs) != 1
            or refs[0].text != source.strip()
            or refs[0].root != "steps"
            or refs[0].parts[1] != "outputs"
        ):
            self.out.error(
                path,
                'must be exactly one output reference like "{{ steps.split.outputs.items }}" '
                "(an output holding a JSON list)",
            )
            return
        ref = refs[0]
        problem = self._step(
            ref.parts[0], ref.parts[2], shown=ref.text, step=step, in_finally=in_finally
        )
        self._report(path, problem)

    def _report(self, path: str, problem: str | None) -> None:
        if problem is not None:
            self.out.error(path, problem)

    def _param(self, name: str, *, shown: str) -> str | None:
        self.used_params.add(name)
        return None if name in self.params else f"{shown}: unknown param {name!r}"

    def _step(
        self,
        name: str,
        output: str | None,
        *,
        shown: str,
        step: Step | None,
        in_finally: bool,
    ) -> str | None:
        target = self.graph.steps.get(name)
        if target is None:
            return f'{shown}: unknown step "{name}"'
        if step is not None:
            if name == step.name:
                return f"{shown}: a step cannot refer to itself"
            if not self._finished_before(name, step.name, in_finally=in_finally):
                return (
                    f'{shown}: step "{name}" is not guaranteed to finish before '
                    f'"{step.name}"; add it to dependencies (directly or indirectly)'
                )
        elif name in self.graph.finally_names:
            return f"{shown}: flow-wide fields cannot refer to a finally step"
        if target.template_ref is not None:
            return None  # its outputs are the template's: checked once resolved
        if output is not None and not any(o.name == output for o in target.outputs):
            declared = ", ".join(sorted(_output_names(target))) or "none"
            return f'{shown}: step "{name}" declares no output {output!r} (declared: {declared})'
        return None

    def _finished_before(self, name: str, of: str, *, in_finally: bool) -> bool:
        if in_finally:
            if name not in self.graph.finally_names:
                return True  # every regular step is terminal before finally steps start
            return self.final.is_ancestor(name, of) is not False
        if name in self.graph.finally_names:
            return False
        return self.regular.is_ancestor(name, of) is not False


def _matrix_keys(step: Step | None) -> set[str]:
    if step is None or step.matrix is None:
        return set()
    return set(step.matrix.values or {}) | set(step.matrix.from_ or {})


def _output_names(step: Step) -> set[str]:
    return {o.name for o in step.outputs}
