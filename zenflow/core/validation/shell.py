"""Warnings for data pasted into shell scripts.

``{{ }}`` substitution is textual: an output or param written into a script that a shell parses
(``run.script``, or the argument after ``-c`` of ``sh``/``bash``/… in a container's
command/args) is shell code once substituted, so an output like ``42'; rm -rf /data; echo '``
runs. The safe way is an ``inputs`` entry (an environment variable) read as ``"$NAME"``.

Warned: params, step outputs, and matrix keys taken from an output (``matrix.from``); not flow
or step fields, phases or literal matrix values, which the flow's author wrote or zenflow
controls. A warning, not an error: the author may trust the value.
"""

from __future__ import annotations

from typing import Any, Final

from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.core import templating
from zenflow.core.validation.problems import Collector

SHELLS: Final = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})
_RISKY_ROOTS: Final = frozenset({"params", "steps", "matrix"})
MAX_WARNINGS: Final = 20


def check_shell_use(spec: JobFlowSpec, *, path: str, text: str, out: Collector) -> None:
    """Warn where a param or an output is pasted into a shell script (the first
    ``MAX_WARNINGS`` places, then one line saying there are more)."""
    if "{{" not in text:
        return
    found, _ = templating.unique_references(text)
    if not any(ref.root in _RISKY_ROOTS for ref in found):
        return
    warned = 0
    sections = (("steps", spec.steps), ("finally", spec.finally_))
    for section, steps in sections:
        for i, step in enumerate(steps):
            run = step.run
            if run is not None:
                command = run.command
                if run.script is None and not (command and _is_shell(command[0])):
                    continue  # the common plain step, decided without building a path
            elif step.template is None:
                continue
            for where, script in scripts(step, path=f"{path}.{section}[{i}]"):
                risky = _risky(script, step)
                if not risky:
                    continue
                if warned == MAX_WARNINGS:
                    out.warn(f"{path}.steps", "more steps paste values into shell scripts")
                    return
                warned += 1
                out.warn(
                    where,
                    f"{', '.join(risky)} is pasted into a shell script: a value holding "
                    "quotes, ';' or '$(' runs as shell code; pass it as an input (an "
                    'environment variable) and use "$NAME"',
                )


def scripts(step: Step, *, path: str) -> list[tuple[str, str]]:
    """(field path, text) of every script a shell of ``step`` parses that holds a ``{{``."""
    found: list[tuple[str, str]] = []
    run = step.run
    if run is not None:
        if run.script is not None and "{{" in run.script:
            found.append((f"{path}.run.script", run.script))
        if run.command and _is_shell(run.command[0]):
            _shell_argument(run.command, run.args, path=f"{path}.run", found=found)
        return found
    pod_spec = _get(_get(_get(step.template, "spec"), "template"), "spec")
    if pod_spec is None:
        return found
    for key in ("containers", "initContainers"):
        containers = pod_spec.get(key)
        if type(containers) is not list:
            continue
        for j, container in enumerate(containers):
            if type(container) is not dict:
                continue
            command, args = container.get("command"), container.get("args")
            first = command[0] if type(command) is list and command else None
            if first is None and type(args) is list and args:
                first = args[0]
            if type(first) is str and _is_shell(first):
                where = f"{path}.template.spec.template.spec.{key}[{j}]"
                _shell_argument(command, args, path=where, found=found)
    return found


def _is_shell(program: str) -> bool:
    return program.rsplit("/", 1)[-1] in SHELLS


def _get(node: Any, key: str) -> dict[str, Any] | None:
    value = node.get(key) if type(node) is dict else None
    return value if type(value) is dict else None


def _shell_argument(command: Any, args: Any, *, path: str, found: list[tuple[str, str]]) -> None:
    """The script of ``[sh, …, -c, SCRIPT, …]`` split over command and args, with its path."""
    fields = [
        (field, values)
        for field, values in (("command", command), ("args", args))
        if type(values) is list
    ]
    argv = [value for _, values in fields for value in values]
    for k in range(1, len(argv) - 1):
        if _is_script_flag(argv[k]):
            script = argv[k + 1]
            if type(script) is str and "{{" in script:
                index = k + 1
                for field, values in fields:
                    if index < len(values):
                        found.append((f"{path}.{field}[{index}]", script))
                        break
                    index -= len(values)
            return


def _is_script_flag(value: object) -> bool:
    """``-c``, or short options that include it (``-ec``, ``-xc``)."""
    return (
        isinstance(value, str)
        and value.startswith("-")
        and not value.startswith("--")
        and "c" in value
        and value[1:].isalpha()
    )


def _risky(script: str, step: Step) -> list[str]:
    if "{{" not in script:
        return []
    refs = templating.references_in(script)
    from_output = set(step.matrix.from_ or {}) if step.matrix is not None else set()
    found: list[str] = []
    for ref in refs:
        risky = (
            ref.root == "params"
            or (ref.root == "steps" and ref.parts[1] == "outputs")
            or (ref.root == "matrix" and ref.parts[0] in from_output)
        )
        if risky and ref.text not in found:
            found.append(ref.text)
    return found
