"""The local node agent: a stand-in for the kubelet on a machine without a container runtime.

It registers a Node, binds the Job controller's Pods to it, runs each Pod's containers as local
processes (exec mode) or completes them as an annotation says (tests), and writes real pod
status, exit codes and termination messages, so Job conditions come from the real Job
controller; and it serves the kubelet's log API so ``kubectl logs`` works through the API server.
Modules: ``main`` (the process and its flags), ``agent`` (the pod event loop), ``node`` (Node
registration and heartbeat), ``pod`` (one Pod's lifecycle), ``spec`` (what a Pod asks for),
``exec``/``process`` (running commands), ``status`` (pod status documents), ``writer`` (status
writes), ``kube`` (its API requests), ``logs`` (container log files), ``logread`` (reading them
as the kubelet serves them), ``logserver`` (``/containerLogs`` over TLS).
"""
