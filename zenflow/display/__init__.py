"""Terminal views of flows shared by the CLI, the kubectl plugin and the demo: the step table
with its DAG order (``flowview``), the live redrawing view (``live``), and step logs: where they
are and how they are labelled (``steplogs``), both pure over raw JobFlow/Job/Pod dicts, and
``logreader``, the one module here that asks the API server (the flow, its Jobs and pods, and
``pods/log``, through ``zenflow.kube.rest`` with the caller's credentials)."""
