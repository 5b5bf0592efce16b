"""The twin of examples/fallback-finally.yaml, written with the SDK: a fallback step that runs
only if the main one failed, a report that always runs, and a finally cleanup.

    python examples/sdk/fallback_finally.py          # submit, follow live, print the result
"""

from zenflow.sdk import FLOW_NAME, Flow, FlowClient

BUSYBOX = "busybox:1.36"


def build() -> Flow:
    flow = Flow("fallback-finally")
    fail_main = flow.param(
        "fail_main",
        description='Make main-process fail ("true") to see the fallback run.',
        default="true",
    )
    main = flow.step(
        "main-process",
        image=BUSYBOX,
        command=["sh", "-c", 'echo processing; test "$FAIL_MAIN" != true'],
        inputs={"FAIL_MAIN": fail_main},  # to the shell as data, never pasted into its text
        continue_on_failure=True,
    )
    fallback = flow.step(
        "fallback",
        image=BUSYBOX,
        command=["echo", "fallback processing"],
        after=[main],
        when=main.failed,  # steps["main-process"].phase == "Failed"
    )
    flow.step(
        "report",
        image=BUSYBOX,
        command=["echo", f"main: {main.phase}, fallback: {fallback.phase}"],
        after=[main, fallback],
        when="true",
    )
    flow.step(
        "cleanup",
        image=BUSYBOX,
        command=["sh", "-c", f"echo cleaning up after {FLOW_NAME}"],
        final=True,
    )
    return flow


def main() -> None:
    with FlowClient() as zf:
        run = zf.run(build(), show=True)
        print(run.phase, {name: step.phase for name, step in run.steps.items()})


if __name__ == "__main__":
    main()
