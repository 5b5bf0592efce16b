"""zenflow: run DAGs of Kubernetes Jobs declared as JobFlow resources.

Layers, top to bottom (each may import only those below it; ``make lint`` checks this with
import-linter, see ``[tool.importlinter]`` in pyproject.toml and docs/ARCHITECTURE.md):

- ``cli``, ``demo``: entry points (``zenflow …``, ``kubectl jobflow …``, the demo);
- ``ui``: the web UI;
- ``controller`` | ``webhook``: the JobFlow/CronJobFlow controllers and the admission webhook;
- ``display``: terminal views of flows shared by the entry points;
- ``kube``: the one place that talks to the API server (generic: no JobFlow);
- ``machinery``: informers, work queue, leader election, manager (client-go semantics, generic);
- ``core``: pure decisions (DAG, validation, planning), no I/O;
- ``api``: typed models of our resources, constants, limits, names, reasons;
- ``certs``, ``errors``, ``logging``: neutral helpers.

``envtest`` (the local control plane for tests, the demo and ``zenflow dev``) stands apart: it
imports none of the product, and nothing but the entry points imports it.
"""

__version__ = "0.1.0"
