"""Reusable templates (``JobFlowTemplate``, ``ClusterJobFlowTemplate``): resolving a flow's
``templateRef``s into the spec it runs (``resolve``), pure and on wire-form dicts, so the
controller, the webhook and ``zenflow validate`` resolve alike whatever their template source
(informer cache and API server, API server, files)."""
