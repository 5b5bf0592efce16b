"""The local node agent: a stand-in for the kubelet on a machine without a container runtime.

It registers a Node, binds the Job controller's Pods to it, runs each Pod's containers as local
processes (exec mode) or completes them as an annotation says (tests), and writes real pod
status, exit codes and termination messages, so Job conditions come from the real Job
controller. Modules: ``agent`` (the loop and CLI), ``node`` (Node registration and heartbeat),
``pod`` (one Pod's lifecycle), ``spec`` (what a Pod asks for), ``exec``/``process`` (running
commands), ``status`` (pod status documents), ``writer`` (status writes), ``kube`` (its API
requests).
"""
