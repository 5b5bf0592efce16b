"""``kubectl-jobflow``: the kubectl plugin (``kubectl jobflow VERB ...``).

Verbs: ``get [NAME]`` / ``status NAME [-w]`` (the step table; ``-w`` follows it live),
``graph NAME`` (the DAG with phases), ``approve NAME STEP``, ``reject NAME STEP --reason R``
(both name the requester, as a SelfSubjectReview tells it), ``suspend NAME``, ``resume NAME``,
``cancel NAME``, ``retry NAME [--step STEP]`` and ``run -f FILE [--param k=v ...]`` (or ``run
--template NAME`` / ``--cluster-template NAME``: a flow made from a whole template). Each write
is one merge patch (see ``zenflow.api.actions``, shared with the web UI) or one create, made
with the user's kubeconfig through kubernetes_asyncio, so RBAC and the admission webhook see
the user exactly as with ``kubectl``.

``logs NAME [STEP]`` prints the steps' logs in DAG order (``zenflow.cli.jobflow_logs``), and
``status``/``get NAME`` show the last lines of a failed step's log under its row.

kubectl's global flags (``-n/--namespace``, ``--kubeconfig``, ``--context``, and ``-A`` where
the plugin lists) go before or after the verb (``zenflow.cli.kubeflags``); ``kubectl jobflow``
alone prints the help.

Exit status: 0 done, 1 the API refused (message printed), 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml
from kubernetes_asyncio import client, config

from zenflow.api.actions import (
    ActionError,
    Patch,
    cancel_patch,
    decision_patch,
    flow_from_template,
    parse_params,
    retry_nonce,
    retry_patch,
    suspend_patch,
    with_params,
)
from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, LABEL_SHARD, VERSION
from zenflow.api.formats import parse_time
from zenflow.api.jobflow import JobFlowSpec
from zenflow.api.templateref import CLUSTER_TEMPLATE_PLURAL, TEMPLATE_PLURAL
from zenflow.cli import jobflow_logs, kubeflags
from zenflow.cli.graph import render
from zenflow.core.flowtemplates.stored import view
from zenflow.display import flowview
from zenflow.display.live import LiveView
from zenflow.display.logreader import StepLogReader, api_message
from zenflow.errors import ConfigError, KubeError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S, load_configuration, new_api_client
from zenflow.kube.identity import whoami
from zenflow.kube.rest import Rest

MERGE_PATCH = "application/merge-patch+json"
WATCH_INTERVAL_S = 1.0


LISTING_VERBS = ("get",)


def build_parser() -> argparse.ArgumentParser:
    common = kubeflags.verb_parent()
    parser = argparse.ArgumentParser(
        prog="kubectl jobflow", description="Inspect and act on zenflow JobFlows."
    )
    kubeflags.add_global_flags(parser)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, help_text: str, *, flow: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        if flow:
            p.add_argument("name", metavar="NAME", help="JobFlow name")
        return p

    get = verb("get", "list JobFlows, or show one flow's steps", flow=False)
    get.add_argument("name", metavar="NAME", nargs="?", help="JobFlow name")
    kubeflags.add_all_namespaces(get)
    get.add_argument(
        "-o",
        "--output",
        choices=("wide",),
        help="wide: also the SHARD column (the replica that owns each flow, with --sharding)",
    )
    status = verb("status", "show a flow's phase, progress and steps")
    for p in (get, status):
        p.add_argument(
            "-w", "--watch", action="store_true", help="follow the flow live until it finishes"
        )
    logs = verb("logs", "print the steps' logs in DAG order (-f: follow them)", flow=False)
    jobflow_logs.add_arguments(logs)
    graph = verb("graph", "draw a flow's DAG with each step's phase")
    graph.add_argument("--format", choices=("tree", "mermaid", "dot"), default="tree")
    approve = verb("approve", "release a Manual step waiting for approval")
    approve.add_argument("step", metavar="STEP", help="the Manual step to approve")
    reject = verb("reject", "fail a Manual step waiting for approval, saying why")
    reject.add_argument("step", metavar="STEP", help="the Manual step to reject")
    reject.add_argument("--reason", required=True, help="why (recorded in the step's status)")
    verb("suspend", "start no new steps (running Jobs go on)")
    verb("resume", "undo suspend")
    verb("cancel", "terminate the flow's running Jobs and fail it (reason Cancelled)")
    retry = verb("retry", "re-run the failed and skipped steps of a finished flow")
    retry.add_argument("--step", help="re-run only this step and its dependents")
    run = verb("run", "create a JobFlow from a file or a template, with param values", flow=False)
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("-f", "--filename", help="JobFlow YAML ('-' for stdin)")
    source.add_argument("--template", metavar="NAME", help="a JobFlowTemplate of the namespace")
    source.add_argument("--cluster-template", metavar="NAME", help="a ClusterJobFlowTemplate")
    run.add_argument(
        "--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="param value"
    )
    run.add_argument(
        "--name", help="metadata.name (default: the file's, or <template>-<random suffix>)"
    )
    return parser


def namespace_of(args: argparse.Namespace) -> str:
    """``-n``, else the kubeconfig context's namespace, else ``default``."""
    if args.namespace:
        return str(args.namespace)
    try:
        contexts, active = config.list_kube_config_contexts(config_file=args.kubeconfig)
    except Exception:  # no kubeconfig at all: in-cluster or error later at load time
        return "default"
    chosen = next((c for c in contexts if c.get("name") == args.context), active)
    ns = (chosen or {}).get("context", {}).get("namespace")
    return str(ns) if ns else "default"


def read_flow_file(path: str) -> dict[str, Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(text) if d]
    flows = [d for d in docs if isinstance(d, dict) and d.get("kind", "JobFlow") == "JobFlow"]
    if len(flows) != 1:
        raise ActionError(f"{path}: expected exactly one JobFlow, found {len(flows)}")
    return flows[0]


def render_list(
    items: Sequence[dict[str, Any]], *, now: datetime, namespaces: bool = False, wide: bool = False
) -> list[str]:
    """``kubectl get``-style rows: [NAMESPACE,] NAME, PHASE, PROGRESS, AGE[, SHARD]."""
    header = ("NAMESPACE", "NAME", "PHASE", "PROGRESS", "AGE")
    rows: list[tuple[str, ...]] = [(*header, "SHARD") if wide else header]
    for item in items:
        view = flowview.snapshot(item)
        meta = item.get("metadata") or {}
        created = parse_time(meta.get("creationTimestamp"))
        age = (now - created).total_seconds() if created else None
        row = (view.namespace, view.name, view.phase, view.progress, flowview.format_duration(age))
        shard = str((meta.get("labels") or {}).get(LABEL_SHARD) or "<none>")
        rows.append((*row, shard) if wide else row)
    if not namespaces:
        rows = [row[1:] for row in rows]
    cells = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(cells)]
    return ["   ".join([*(r[i].ljust(widths[i]) for i in range(cells)), r[cells]]) for r in rows]


class Session:
    """The user's API connection for one verb."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api = api
        self.objects = client.CustomObjectsApi(api)
        self.rest = Rest(api)
        self.namespace = namespace

    async def get(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = await self.objects.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, name,
            _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
        )  # fmt: skip
        return obj

    async def list(self, *, all_namespaces: bool = False) -> list[dict[str, Any]]:
        if all_namespaces:
            out = await self.objects.list_cluster_custom_object(
                GROUP, VERSION, JOBFLOW_PLURAL, _request_timeout=DEFAULT_REQUEST_TIMEOUT_S
            )
        else:
            out = await self.objects.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, JOBFLOW_PLURAL,
                _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
            )  # fmt: skip
        return list(out.get("items") or [])

    async def patch(self, name: str, body: Patch) -> dict[str, Any]:
        # A dict body is sent as JSON Patch unless the content type says merge patch.
        options: dict[str, Any] = {
            "_content_type": MERGE_PATCH,
            "_request_timeout": DEFAULT_REQUEST_TIMEOUT_S,
        }
        obj: dict[str, Any] = await self.objects.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, name, body, **options
        )
        return obj

    async def get_template(self, name: str, *, cluster: bool) -> dict[str, Any]:
        """A JobFlowTemplate of the namespace, or (``cluster``) a ClusterJobFlowTemplate."""
        obj: dict[str, Any]
        if cluster:
            obj = await self.objects.get_cluster_custom_object(
                GROUP, VERSION, CLUSTER_TEMPLATE_PLURAL, name,
                _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
            )  # fmt: skip
        else:
            obj = await self.objects.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, TEMPLATE_PLURAL, name,
                _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
            )  # fmt: skip
        return obj

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        obj: dict[str, Any] = await self.objects.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, JOBFLOW_PLURAL, body,
            _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
        )  # fmt: skip
        return obj


async def execute(args: argparse.Namespace, session: Session, *, now: datetime) -> list[str]:
    """Run one verb; returns the lines to print."""
    color = not args.no_color and sys.stdout.isatty()
    verb = args.verb
    if verb == "get" and args.name is None:
        every = bool(getattr(args, "all_namespaces", False))
        wide = getattr(args, "output", None) == "wide"
        flows = await session.list(all_namespaces=every)
        return render_list(flows, now=now, namespaces=every, wide=wide)
    name = str(getattr(args, "name", None) or "")
    if verb in ("get", "status") and args.watch:
        return await watch(session, name, out=sys.stdout)
    if verb in ("get", "status"):
        obj = await session.get(name)
        tails = await StepLogReader(session.rest, session.namespace).failed_tails(obj)
        return flowview.render_table(flowview.snapshot(obj), now=now, color=color, logs=tails)
    if verb == "graph":
        obj = await session.get(name)
        if args.format == "tree":
            return flowview.render_graph(flowview.snapshot(obj), color=color)
        spec = JobFlowSpec.model_validate(view(obj)["spec"])
        return [render(spec, name=name, fmt=args.format)]
    if verb == "run" and (args.template or args.cluster_template):
        template = await session.get_template(
            args.template or args.cluster_template, cluster=bool(args.cluster_template)
        )
        doc = flow_from_template(template, parse_params(args.param), name=args.name)
        doc["metadata"]["namespace"] = session.namespace
        created = await session.create(doc)
        return [f"jobflow.{GROUP}/{created['metadata']['name']} created"]
    if verb == "run":
        doc = with_params(read_flow_file(args.filename), parse_params(args.param))
        meta = doc.setdefault("metadata", {})
        if args.name:
            meta["name"] = args.name
        meta["namespace"] = session.namespace
        created = await session.create(doc)
        return [f"jobflow.{GROUP}/{created['metadata']['name']} created"]
    if verb in ("approve", "reject"):
        user = await whoami(session.api)
        reason = getattr(args, "reason", None)
        await decide(session, name, args.step, user=user, reason=reason)
        done = "approved" if verb == "approve" else "rejected"
        return [f"jobflow.{GROUP}/{name} step {args.step} {done} by {user}"]
    patches: dict[str, tuple[Patch, str]] = {
        "cancel": (cancel_patch(), "cancel requested"),
        "suspend": (suspend_patch(suspend=True), "suspended"),
        "resume": (suspend_patch(suspend=False), "resumed"),
        "retry": (retry_patch(nonce=retry_nonce(now), step=getattr(args, "step", None)), ""),
    }
    body, done = patches[verb]
    await session.patch(name, body)
    if verb == "retry":
        done = f"retry of step {args.step} requested" if args.step else "retry requested"
    return [f"jobflow.{GROUP}/{name} {done}"]


async def watch(
    session: Session, name: str, *, out: TextIO, interval: float = WATCH_INTERVAL_S
) -> list[str]:
    """Follow the flow (redrawn on a terminal, a line per change otherwise) until it ends;
    then the end of each failed step's log goes under its row."""
    live = LiveView(out, started=datetime.now(UTC))
    while True:
        obj = await session.get(name)
        view = flowview.snapshot(obj)
        live.update(view, now=datetime.now(UTC))
        if view.finished_phase:
            tails = await StepLogReader(session.rest, session.namespace).failed_tails(obj)
            if tails:
                live.update(view, now=datetime.now(UTC), logs=tails)
            return []
        await asyncio.sleep(interval)


async def decide(
    session: Session,
    name: str,
    step: str,
    *,
    user: str,
    reason: str | None,
    attempts: int = 5,
) -> None:
    """Append ``user``'s approval (or, with a ``reason``, rejection) of ``step``, re-reading on
    a conflicting concurrent change."""
    for attempt in range(attempts):
        flow = await session.get(name)
        patch = decision_patch(
            flow,
            step,
            user=user,
            now=datetime.now(UTC),
            decision="reject" if reason is not None else "approve",
            reason=reason,
        )
        try:
            await session.patch(name, patch)
            return
        except client.ApiException as exc:
            if exc.status != 409 or attempt == attempts - 1:
                raise


async def run_args(args: argparse.Namespace) -> int:
    """Run the parsed command in the current event loop; returns 0 or 1 (API refusal)."""
    cfg = await load_configuration(args.kubeconfig, context=args.context)
    api = new_api_client(cfg, pool_size=4)
    try:
        if args.verb == "logs":
            color = not args.no_color and sys.stdout.isatty()
            return await jobflow_logs.run_logs(
                args, Rest(api), namespace_of(args), out=sys.stdout, err=sys.stderr, color=color
            )
        lines = await execute(args, Session(api, namespace_of(args)), now=datetime.now(UTC))
    except client.ApiException as exc:
        print(f"error: {_api_message(exc)}", file=sys.stderr)
        return 1
    except KubeError as exc:
        print(f"error: {api_message(exc)}", file=sys.stderr)
        return 1
    finally:
        await api.close()
    if lines:
        print("\n".join(lines))
    return 0


def _api_message(exc: client.ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
        return str(body.get("message") or exc.reason)
    except (ValueError, AttributeError):
        return f"{exc.status} {exc.reason}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    kubeflags.check(parser, args, lists=LISTING_VERBS)
    try:
        return asyncio.run(run_args(args))
    except (ActionError, ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
