"""The twin of examples/params.yaml: declared params with defaults, an enum and a required value,
used as {{ params.NAME }} in commands and as params.NAME in `when`.

    python examples/sdk/params.py mode=stream     # param values as NAME=VALUE arguments
"""

import sys

from zenflow.sdk import Flow, FlowClient

BUSYBOX = "busybox:1.36"


def build() -> Flow:
    flow = Flow("params")
    input_path = flow.param("input_path", description="Where to read from.", default="/data/input")
    batch_size = flow.param("batch_size", description="Records per batch.", default=1000)
    mode = flow.param(
        "mode", description="Processing mode.", default="batch", enum=["batch", "stream"]
    )
    date = flow.param(
        "processing_date",
        description="Day to process; this run sets it explicitly.",
        required=True,
        value="2024-01-01",
    )
    process = flow.step(
        "process",
        image=BUSYBOX,
        command=[
            "echo",
            f"mode={mode} input={input_path} batch={batch_size}",
            f"date={date}",
        ],
    )
    flow.step(
        "stream-only",
        image=BUSYBOX,
        command=["echo", "streaming extras"],
        after=[process],
        when=mode.eq("stream"),  # params.mode == "stream"
    )
    return flow


def main(argv: list[str]) -> None:
    params = dict(arg.split("=", 1) for arg in argv)
    with FlowClient() as zf:
        run = zf.run(build(), params=params, show=True)
        print(run.phase, {name: step.phase for name, step in run.steps.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
