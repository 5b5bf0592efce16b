"""Python functions as steps (examples/python-tasks.yaml is its rendered twin): each decorated
function runs in its own container with `python3 -c`, reads its parameters from the inputs,
and the dict it returns becomes the step's outputs.

    python examples/sdk/python_tasks.py           # run it
    python examples/sdk/python_tasks.py --yaml    # print the YAML
"""

import sys

from zenflow.sdk import Flow, FlowClient

PYTHON = "python:3.13-slim"


def build() -> Flow:
    flow = Flow("python-tasks")
    count = flow.param("count", default="4", description="How many numbers to add up.")

    @flow.task(image=PYTHON, inputs={"count": count}, outputs=["numbers", "total"])
    def generate(count: str) -> dict[str, object]:
        numbers = list(range(1, int(count) + 1))
        return {"numbers": numbers, "total": sum(numbers)}

    @flow.task(
        image=PYTHON,
        after=[generate],
        inputs={"total": generate.outputs.total, "numbers": generate.outputs.numbers},
        outputs=["mean"],
    )
    def summarize(total: str, numbers: str) -> dict[str, object]:
        import json

        values = json.loads(numbers)
        print(f"{len(values)} numbers, total {total}")
        return {"mean": int(total) / len(values)}

    return flow


def main(argv: list[str]) -> None:
    flow = build()
    if "--yaml" in argv:
        print(flow.to_yaml(), end="")
        return
    with FlowClient() as zf:
        run = zf.run(flow, show=True)
        print(run.phase, "mean:", run.outputs("summarize")["mean"])


if __name__ == "__main__":
    main(sys.argv[1:])
