"""The twin of examples/matrix-from-output.yaml: `split` publishes a JSON list as an output,
`process` fans out into one Job per element (two at a time), `merge` waits for all of them.

    python examples/sdk/matrix_from_output.py
"""

from zenflow.sdk import Flow, FlowClient, matrix_value, output

BUSYBOX = "busybox:1.36"
PARTITIONS = """echo '{"partitions": ["p1", "p2", "p3"]}' > /dev/termination-log"""


def build() -> Flow:
    flow = Flow("matrix-from-output")
    split = flow.step(
        "split",
        image=BUSYBOX,
        command=["sh", "-c", PARTITIONS],
        outputs=[output("partitions", key="partitions", description="JSON list of partition ids.")],
    )
    process = flow.step(
        "process",
        image=BUSYBOX,
        command=["echo", f"processing partition {matrix_value('partition')}"],
        after=[split],
        matrix={"partition": split.outputs.partitions},
        max_parallel=2,
    )
    flow.step("merge", image=BUSYBOX, command=["echo", "merged"], after=[process])
    return flow


def main() -> None:
    with FlowClient() as zf:
        run = zf.run(build(), show=True)
        print(run.phase, "partitions:", run.outputs("split")["partitions"])


if __name__ == "__main__":
    main()
