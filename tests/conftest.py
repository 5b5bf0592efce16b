"""Shared pytest configuration: the real local control plane fixtures (``control_plane``,
``kube_config``, ``api_client``, ``namespace``) come from zenflow's envtest plugin."""

pytest_plugins = ["zenflow.envtest.pytest_plugin"]
