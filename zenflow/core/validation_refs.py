"""Checks of what steps refer to: CEL ``when`` expressions and ``{{ … }}`` references in string
fields. A reference must name a declared param, an existing step that is guaranteed to have
finished first (an ancestor; for finally steps any regular step too), a declared output, or a
key of the step's own matrix."""

from __future__ import annotations

from typing import Any

from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.core import expressions, templating
from zenflow.core.dag import CycleError, Dag
from zenflow.core.validation_problems import Collector
from zenflow.core.validation_steps import StepGraph


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


def check_references(spec: JobFlowSpec, *, graph: StepGraph, path: str, out: Collector) -> None:
    params = {p.name for p in spec.params}
    used_params: set[str] = set()
    checker = _Checker(graph=graph, params=params, used_params=used_params, out=out)
    located = [(f"{path}.steps[{i}]", s, False) for i, s in enumerate(spec.steps)]
    located += [(f"{path}.finally[{i}]", s, True) for i, s in enumerate(spec.finally_)]
    for here, step, in_finally in located:
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

    def check_step(self, step: Step, *, path: str, in_finally: bool) -> None:
        if step.when is not None:
            self._check_when(step, path=f"{path}.when", in_finally=in_finally)
        if step.template is not None:
            self.check_strings(
                step.template, path=f"{path}.template", step=step, in_finally=in_finally
            )
        if step.run is not None:
            self.check_strings(
                step.run.model_dump(by_alias=True, exclude_none=True),
                path=f"{path}.run",
                step=step,
                in_finally=in_finally,
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

    def check_strings(self, tree: Any, *, path: str, step: Step | None, in_finally: bool) -> None:
        refs, errors = templating.find_references(tree, path)
        for where, message in errors:
            self.out.error(where, message)
        for where, ref in refs:
            self._check_template_ref(ref, path=where, step=step, in_finally=in_finally)

    def _check_template_ref(
        self, ref: templating.Reference, *, path: str, step: Step | None, in_finally: bool
    ) -> None:
        if ref.root == "params":
            self._param(ref.parts[0], path=path, shown=ref.text)
        elif ref.root == "matrix":
            keys = _matrix_keys(step)
            if ref.parts[0] not in keys:
                where = "this step's matrix" if keys else "a step without a matrix"
                self.out.error(path, f"{ref.text}: no matrix key {ref.parts[0]!r} in {where}")
        elif ref.root == "steps":
            output = ref.parts[2] if ref.parts[1] == "outputs" else None
            self._step(
                ref.parts[0], output, path=path, shown=ref.text, step=step, in_finally=in_finally
            )
        elif ref.root == "step" and step is None:
            self.out.error(path, f"{ref.text} is only available inside a step")

    def _check_when(self, step: Step, *, path: str, in_finally: bool) -> None:
        assert step.when is not None
        try:
            compiled = expressions.compile_expression(step.when)
        except expressions.ExpressionError as exc:
            self.out.error(path, str(exc))
            return
        for root in compiled.unknown_roots:
            self.out.error(path, f"unknown variable {root!r}: use params, steps or flow")
        for ref in compiled.references:
            if ref.root == "params":
                if ref.name is not None:
                    self._param(ref.name, path=path, shown=f"params.{ref.name}")
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
                self._step(
                    ref.name,
                    output,
                    path=path,
                    shown=f"steps.{ref.name}",
                    step=step,
                    in_finally=in_finally,
                )

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
        self._step(
            ref.parts[0], ref.parts[2], path=path, shown=ref.text, step=step, in_finally=in_finally
        )

    def _param(self, name: str, *, path: str, shown: str) -> None:
        self.used_params.add(name)
        if name not in self.params:
            self.out.error(path, f"{shown}: unknown param {name!r}")

    def _step(
        self,
        name: str,
        output: str | None,
        *,
        path: str,
        shown: str,
        step: Step | None,
        in_finally: bool,
    ) -> None:
        target = self.graph.steps.get(name)
        if target is None:
            self.out.error(path, f'{shown}: unknown step "{name}"')
            return
        if step is not None:
            if name == step.name:
                self.out.error(path, f"{shown}: a step cannot refer to itself")
                return
            if not self._finished_before(name, step.name, in_finally=in_finally):
                self.out.error(
                    path,
                    f'{shown}: step "{name}" is not guaranteed to finish before '
                    f'"{step.name}"; add it to dependencies (directly or indirectly)',
                )
        elif name in self.graph.finally_names:
            self.out.error(path, f"{shown}: flow-wide fields cannot refer to a finally step")
        if output is not None and output not in _output_names(target):
            declared = ", ".join(sorted(_output_names(target))) or "none"
            self.out.error(
                path, f'{shown}: step "{name}" declares no output {output!r} (declared: {declared})'
            )

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
