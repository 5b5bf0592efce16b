"""Benchmark: the controller's CPU per step, this tree against an older revision, paired in one
sitting.

CPU figures of the same code differ by up to 1.5x between sittings on shared cores; the ratio of
two codes measured in turns within one sitting does not. ``git worktree add --detach`` checks
the revision out into a temporary directory; then, on one local control plane, rounds alternate
the revision and this tree, each a ``benchmarks.controller_cpu`` batch in a namespace of its own
(the controller a process of its own, Event writes included). Prints every run, the medians and
their ratio; the worktree is removed at the end.

The revision runs with this tree's virtualenv and CRDs, so it must be able to run them (4b14d63,
the code issue 11's "before" figures were measured on, can).

Run: ``.venv/bin/python -m benchmarks.paired --against REV [--rounds 3] [--flows 200]``. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import controller_cpu, harness
from benchmarks.harness import REPO
from zenflow.cli import eventloop


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="zenflow-paired-") as tmp:
        path = Path(tmp) / "tree"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), revision],
            cwd=REPO,
            check=False,
            capture_output=True,
            text=True,
        )
        if added.returncode != 0:
            raise SystemExit(
                f"benchmarks.paired: cannot check out {revision!r} ({added.stderr.strip()}); "
                "give a commit, tag or branch of this repository"
            )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=REPO,
                check=False,
                capture_output=True,
            )


async def measure(
    plane: Any, trees: dict[str, Path], *, rounds: int, flows: int
) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    async with harness.user_client(plane) as objects:
        for n in range(rounds):
            for i, (label, source) in enumerate(trees.items()):
                result = await controller_cpu.measure(
                    plane, objects, flows=flows, namespace=f"paired-{n}-{i}", source=source
                )
                runs[label].append(result)
                print(f"round {n + 1} {label}:{controller_cpu.line(result)}", flush=True)
    return runs


def report(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    medians = {
        label: statistics.median(r["cpu_ms_per_step"] for r in results)
        for label, results in runs.items()
    }
    lines = [
        f"  {label}: median {m:.2f} ms/step of "
        + ", ".join(f"{r['cpu_ms_per_step']:.2f}" for r in runs[label])
        for label, m in medians.items()
    ]
    (before, b), (after, a) = list(medians.items())
    lines.append(f"  {after} / {before}: {a / b:.2f}")
    return lines


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--against", required=True, help="the git revision to compare with")
    parser.add_argument("--rounds", type=_positive, default=3)
    parser.add_argument("--flows", type=_positive, default=200)
    args = parser.parse_args()
    rev_parse = ["git", "rev-parse", "--short", "HEAD"]
    head = subprocess.run(rev_parse, cwd=REPO, check=True, capture_output=True, text=True)
    head_label = f"this tree ({head.stdout.strip()})"
    with worktree(args.against) as old, harness.control_plane() as plane:
        trees = {args.against: old, head_label: REPO}
        print(f"Controller CPU per step, {args.flows} x 10, paired: {', '.join(trees)}")
        runs = eventloop.run(measure(plane, trees, rounds=args.rounds, flows=args.flows))
    print("\n".join(report(runs)))


if __name__ == "__main__":
    main()
