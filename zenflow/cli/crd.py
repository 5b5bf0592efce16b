"""``zenflow crd``: write the CustomResourceDefinitions generated from the API models, or check
that the committed ones are up to date (``--check``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zenflow.api.crd import all_crds, render_yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("crds"),
        help="directory for the CRD YAML files (default: crds)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files in --output-dir differ from the generated",
    )


def run(args: argparse.Namespace) -> int:
    out_dir: Path = args.output_dir
    stale: list[str] = []
    for file_name, crd in all_crds().items():
        text = render_yaml(crd)
        target = out_dir / file_name
        if args.check:
            try:
                current = target.read_text(encoding="utf-8")
            except OSError:
                current = None
            if current != text:
                stale.append(str(target))
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if stale:
        for path in stale:
            print(f"{path}: out of date; run `zenflow crd --output-dir {out_dir}`", file=sys.stderr)
        return 1
    return 0
