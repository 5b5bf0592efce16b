"""zenflow's Python SDK: declare JobFlows in Python, render them to YAML, validate them with the
validator the cluster runs, submit them, wait for them with progress and read their results —
async (``AsyncFlowClient``) or sync (``FlowClient``, which runs the async one).

    from zenflow.sdk import Flow, FlowClient

    flow = Flow("hello")
    who = flow.param("who", default="world")
    greet = flow.step("greet", image="busybox", command=["echo", f"hello {who}"])
    flow.step("bye", image="busybox", command=["echo", "bye"], after=[greet])

    with FlowClient() as zf:
        run = zf.run(flow, show=True)
        assert run.succeeded

A layer above the API models, the pure core and the kube edge (it may use the terminal views of
``zenflow.display``); nothing below imports it. docs/SDK.md is the guide.
"""

from zenflow.sdk.client import AsyncFlowClient, FlowLike, ProgressCallback
from zenflow.sdk.errors import FlowDefinitionError, FlowInvalidError, WaitTimeoutError
from zenflow.sdk.flow import Flow, output
from zenflow.sdk.refs import (
    FLOW_NAME,
    FLOW_NAMESPACE,
    FLOW_UID,
    Cel,
    MatrixRef,
    OutputRef,
    ParamRef,
    StepRef,
    literal,
    matrix_value,
)
from zenflow.sdk.results import FlowRun, StepRun
from zenflow.sdk.sync import FlowClient

__all__ = [
    "FLOW_NAME",
    "FLOW_NAMESPACE",
    "FLOW_UID",
    "AsyncFlowClient",
    "Cel",
    "Flow",
    "FlowClient",
    "FlowDefinitionError",
    "FlowInvalidError",
    "FlowLike",
    "FlowRun",
    "MatrixRef",
    "OutputRef",
    "ParamRef",
    "ProgressCallback",
    "StepRef",
    "StepRun",
    "WaitTimeoutError",
    "literal",
    "matrix_value",
    "output",
]
