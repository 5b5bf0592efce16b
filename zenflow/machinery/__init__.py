"""Controller machinery: client-go semantics in asyncio.

Generic: it knows nothing of JobFlows or of the Kubernetes client (``zenflow.kube`` implements
its ``ListerWatcher`` and ``LeaseStore`` interfaces). Layers, each building on the last (the
client-go semantics they keep are listed in docs/MACHINERY.md):

- ``clock``: injected monotonic time, so queues, limiters and leases are tested without sleeping.
- ``queue`` → ``delaying`` → ``ratelimiting``: the work queue (dedup, one worker per key, drain),
  delayed adds, and rate-limited re-adds; ``ratelimit`` holds the limiters.
- ``reconcile``: the reconcile contract (``Result``, ``TerminalError``) and ``handle_result``.
- ``store``/``reflector``/``informer``: list+watch into an indexed cache with event handlers;
  ``watcher``: a watch without a cache; ``expectations``: writes not yet seen in a cache.
- ``leaderelection``: a coordination.k8s.io Lease lock.
- ``ring`` → ``sharding``: a consistent-hash ring and the sharder's decision (which objects to
  assign or drain), for active-active replicas.
- ``controller``/``manager``/``http``: workers, runnables, probes and metrics endpoints.
"""

from zenflow.machinery.clock import Clock, FakeClock, RealClock
from zenflow.machinery.controller import Controller
from zenflow.machinery.delaying import DelayingQueue
from zenflow.machinery.expectations import Expectations, LatestWrites
from zenflow.machinery.informer import OWNER_INDEX, Informer, owner_indexer, owner_key
from zenflow.machinery.leaderelection import LeaderElector, LeaseStore, default_identity
from zenflow.machinery.listwatch import ListerWatcher
from zenflow.machinery.manager import LeadershipLostError, Manager, Runnable
from zenflow.machinery.metrics import MachineryMetrics, machinery_metrics
from zenflow.machinery.queue import WorkQueue
from zenflow.machinery.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import (
    ObjectKey,
    Outcome,
    Result,
    TerminalError,
    handle_result,
    key_of,
    make_key,
    split_key,
)
from zenflow.machinery.ring import Ring, ring_point
from zenflow.machinery.sharding import Action, Placement, decide
from zenflow.machinery.store import Store
from zenflow.machinery.watcher import Watcher

__all__ = [
    "OWNER_INDEX",
    "Action",
    "BucketRateLimiter",
    "Clock",
    "Controller",
    "DelayingQueue",
    "Expectations",
    "FakeClock",
    "Informer",
    "ItemExponentialFailureRateLimiter",
    "LatestWrites",
    "LeaderElector",
    "LeadershipLostError",
    "LeaseStore",
    "ListerWatcher",
    "MachineryMetrics",
    "Manager",
    "MaxOfRateLimiter",
    "ObjectKey",
    "Outcome",
    "Placement",
    "RateLimiter",
    "RateLimitingQueue",
    "RealClock",
    "Result",
    "Ring",
    "Runnable",
    "Store",
    "TerminalError",
    "Watcher",
    "WorkQueue",
    "decide",
    "default_controller_rate_limiter",
    "default_identity",
    "handle_result",
    "key_of",
    "machinery_metrics",
    "make_key",
    "owner_indexer",
    "owner_key",
    "ring_point",
    "split_key",
]
