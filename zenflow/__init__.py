"""zenflow: run DAGs of Kubernetes Jobs declared as JobFlow resources.

Layers, outermost first: ``cli`` (entry points) → ``controller`` / ``webhook`` (the engine and
its admission front door) → ``machinery`` (informers, work queue, leader election, manager) and
``kube`` (the one place that talks to the API server) → ``core`` (pure decisions: DAG,
validation, readiness, retry, status) and ``api`` (typed models of our resources).
``envtest`` is the local control plane used by tests, the demo and ``zenflow dev``.
"""

__version__ = "0.1.0"
