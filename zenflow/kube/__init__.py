"""The I/O edge: API clients, error wrapping and typed helpers over kubernetes-asyncio.

Only this package, the informers/leader election in ``machinery`` and the executors in
``controller``/``webhook`` talk to the API server.
"""
