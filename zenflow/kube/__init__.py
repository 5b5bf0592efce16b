"""The I/O edge: everything that talks to the API server, generic (nothing of JobFlows).

``rest`` is the one request helper (the controllers' API clients, list+watch, the Lease store,
the API server probe, the web UI and the envtest node agent go through it): raw JSON by path
under a timeout, streamed answers for watches and logs, errors translated once by ``errors``.
It sends through a ``transport`` (the real one over a kubernetes-asyncio ``ApiClient``, or a
fake in unit tests). ``client`` makes API clients, ``throttle`` rate-limits them, ``listwatch``
and ``lease`` implement the machinery's ``ListerWatcher`` and ``LeaseStore``. Callers still on
kubernetes-asyncio's generated API classes (the webhook's certificate store, the kubectl plugin,
the demo) wrap their calls in ``errors.wrapped``.
"""
