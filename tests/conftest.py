"""Shared pytest configuration: the real local control plane fixtures (``control_plane``,
``kube_config``, ``api_client``, ``namespace``) come from zenflow's envtest plugin.

``zenflow.core.cel`` is loaded up front: creating cel-python's Environment raises the
interpreter's recursion limit (to 2500), and the controller loads it lazily on the first ``when``
expression. Loaded here, the limit is the same for every test, and Hypothesis does not see it
change during one (which it reports as a warning, an error under ``filterwarnings = error``)."""

import zenflow.core.cel  # noqa: F401

pytest_plugins = ["zenflow.envtest.pytest_plugin"]
