"""``zenflow demo [--flow FILE] [--keep] [--ui]``: start a local control plane and the controller,
run an example flow and show each step's state live until it ends (see ``zenflow.demo.runner``);
``--ui`` also serves the web UI on 127.0.0.1 and opens it, and keeps the cluster up.

Exit status: 0 when the flow Succeeded, 1 when it failed or the demo could not run, 130/143 when
stopped by SIGINT/SIGTERM (everything it started is stopped first).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import zenflow
from zenflow.demo import DemoOptions, run_demo

_REPO = Path(zenflow.__file__).resolve().parent.parent


def _default(relative: str) -> Path:
    """``relative`` under the current directory, else under the source checkout."""
    here = Path(relative)
    return here if here.exists() else _REPO / relative


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flow",
        type=Path,
        default=None,
        help="JobFlow YAML to run (default: examples/demo.yaml)",
    )
    parser.add_argument(
        "--crds",
        type=Path,
        default=None,
        help="directory of CRD manifests (default: crds/, else generated from the models)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="after the flow ends, keep the control plane and controller running until Ctrl-C",
    )
    parser.add_argument(
        "--ui",
        action="store_true",
        help="also serve the web UI (zenflow ui) and open it; keeps the cluster up like --keep",
    )
    parser.add_argument("--ui-port", type=int, default=8080, help="the web UI's port (8080)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the flow (default 600)"
    )


def run(args: argparse.Namespace) -> int:
    options = DemoOptions(
        flow_path=args.flow or _default("examples/demo.yaml"),
        crds_dir=args.crds or _default("crds"),
        keep=args.keep,
        timeout_s=args.timeout,
        ui_port=args.ui_port if args.ui else None,
    )
    return run_demo(options)
