"""``zenflow graph FILE``: print a flow's DAG as a terminal tree, Mermaid or Graphviz DOT.

The first JobFlow in FILE is drawn (``--name`` picks another; a CronJobFlow draws its template).
Exit status as for ``zenflow validate``: 1 when the flow cannot be parsed, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from zenflow.api.cronjobflow import CronJobFlow
from zenflow.api.flowtemplate import parse_template
from zenflow.api.jobflow import JobFlow, JobFlowSpec, Step
from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND
from zenflow.cli.documents import InputError, read_documents
from zenflow.core.dag import Dag

FORMATS = ("tree", "mermaid", "dot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="YAML file ('-' for stdin)")
    parser.add_argument("--format", choices=FORMATS, default="tree", help="output format")
    parser.add_argument("--name", help="metadata.name of the flow to draw (default: the first)")


def run(args: argparse.Namespace) -> int:
    try:
        docs = list(read_documents(args.file))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    for doc in docs:
        content: Any = doc.content
        kinds = {"JobFlow", "CronJobFlow", TEMPLATE_KIND, CLUSTER_TEMPLATE_KIND}
        if not isinstance(content, dict) or content.get("kind") not in kinds:
            continue
        name = str((content.get("metadata") or {}).get("name", ""))
        if args.name is not None and name != args.name:
            continue
        try:
            if content["kind"] == "JobFlow":
                spec = JobFlow.model_validate(content).spec
            elif content["kind"] in (TEMPLATE_KIND, CLUSTER_TEMPLATE_KIND):
                template = parse_template(content).spec  # its step templates as a DAG
                spec = JobFlowSpec(steps=template.steps, finally_=template.finally_)
            else:
                spec = CronJobFlow.model_validate(content).spec.job_flow_template.spec
        except ValidationError as exc:
            print(f"{doc.label}: cannot draw an invalid flow:\n{exc}", file=sys.stderr)
            return 1
        print(render(spec, name=name or "jobflow", fmt=args.format))
        return 0
    wanted = f" named {args.name!r}" if args.name else ""
    print(f"{args.file}: no JobFlow, CronJobFlow or template{wanted}", file=sys.stderr)
    return 1


def render(spec: JobFlowSpec, *, name: str, fmt: str) -> str:
    if fmt == "mermaid":
        return render_mermaid(spec)
    if fmt == "dot":
        return render_dot(spec, name=name)
    return render_tree(spec, name=name)


def _label(step: Step) -> str:
    notes = []
    if step.type == "Manual":
        notes.append("manual")
    if step.matrix is not None:
        notes.append("matrix")
    if step.when is not None:
        notes.append(f"when {step.when}")
    if step.continue_on_failure:
        notes.append("continueOnFailure")
    if step.retry_policy is not None and step.retry_policy.limit:
        notes.append(f"retries {step.retry_policy.limit}")
    return f"{step.name} [{', '.join(notes)}]" if notes else step.name


def render_tree(spec: JobFlowSpec, *, name: str) -> str:
    """Each step under its dependencies; a step with several is drawn in full (with its
    dependents) under the last one listed and referenced (``↓``) under the others."""
    lines = [f"{name} ({len(spec.steps)} steps, {len(spec.finally_)} finally)"]
    lines += _tree_lines(spec.steps)
    if spec.finally_:
        lines.append("finally:")
        lines += _tree_lines(spec.finally_)
    return "\n".join(lines)


def _tree_lines(steps: Sequence[Step]) -> list[str]:
    dag = Dag.from_steps(steps)
    by_name = {s.name: s for s in steps}
    drawn: set[str] = set()
    lines: list[str] = []

    def walk(node: str, prefix: str, last: bool, parent: str | None) -> None:
        branch = "└── " if last else "├── "
        step = by_name[node]
        deps = dag.dependencies(node)
        if node in drawn:
            lines.append(f"{prefix}{branch}{node} ↑ (shown above)")
            return
        # Draw a shared node only under its last-listed dependency; elsewhere reference it.
        if parent is not None and len(deps) > 1 and parent != deps[-1]:
            lines.append(f"{prefix}{branch}{node} ↓ (drawn under {deps[-1]})")
            return
        drawn.add(node)
        extra = f" (after {', '.join(deps)})" if len(deps) > 1 else ""
        lines.append(f"{prefix}{branch}{_label(step)}{extra}")
        children = dag.dependents(node)
        for i, child in enumerate(children):
            walk(child, prefix + ("    " if last else "│   "), i == len(children) - 1, node)

    roots = [n for n in dag.nodes if not dag.dependencies(n)]
    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1, None)
    for node in dag.nodes:  # steps only reachable through a cycle
        if node not in drawn:
            lines.append(f"{node} (in a dependency cycle)")
    return lines


def _node_id(name: str) -> str:
    return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def render_mermaid(spec: JobFlowSpec) -> str:
    lines = ["flowchart TD"]

    def nodes(steps: Sequence[Step], indent: str) -> None:
        for step in steps:
            text = _label(step).replace('"', "'")
            if step.type == "Manual":
                lines.append(f'{indent}{_node_id(step.name)}{{"{text}"}}')
            elif step.matrix is not None:
                lines.append(f'{indent}{_node_id(step.name)}[["{text}"]]')
            else:
                lines.append(f'{indent}{_node_id(step.name)}["{text}"]')

    nodes(spec.steps, "  ")
    if spec.finally_:
        lines.append("  subgraph finally")
        nodes(spec.finally_, "    ")
        lines.append("  end")
    for step in spec.all_steps():
        for dep in step.dependencies:
            lines.append(f"  {_node_id(dep)} --> {_node_id(step.name)}")
    return "\n".join(lines)


def render_dot(spec: JobFlowSpec, *, name: str) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for step in spec.steps:
        shape = " shape=diamond" if step.type == "Manual" else ""
        lines.append(f"  {quote(step.name)} [label={quote(_label(step))}{shape}];")
    if spec.finally_:
        lines.append("  subgraph cluster_finally {")
        lines.append('    label="finally";')
        for step in spec.finally_:
            lines.append(f"    {quote(step.name)} [label={quote(_label(step))}];")
        lines.append("  }")
    for step in spec.all_steps():
        for dep in step.dependencies:
            lines.append(f"  {quote(dep)} -> {quote(step.name)};")
    lines.append("}")
    return "\n".join(lines)
