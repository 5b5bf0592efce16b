"""Controller machinery: client-go semantics in asyncio.

Layers, each building on the last (see /shared/CONTROLLER_SEMANTICS.md):

- ``clock``: injected monotonic time, so queues, limiters and leases are tested without sleeping.
- ``queue`` → ``delaying`` → ``ratelimiting``: the work queue (dedup, one worker per key, drain),
  delayed adds, and rate-limited re-adds; ``ratelimit`` holds the limiters.
- ``reconcile``: the reconcile contract (``Result``, ``TerminalError``) and ``handle_result``.
- ``store``/``reflector``/``informer``: list+watch into an indexed cache with event handlers.
- ``leaderelection``: a coordination.k8s.io Lease lock.
- ``controller``/``manager``/``http``: workers, runnables, probes and metrics endpoints.
"""
