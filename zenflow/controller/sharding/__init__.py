"""Active-active replicas (``--sharding``): membership Leases, the sharder that labels each
JobFlow and CronJobFlow with its owner, and the drain guard that lets a live owner hand a flow
over. The decisions are pure: the ring and ``decide`` in ``zenflow.machinery.ring`` and
``zenflow.machinery.sharding`` (generic), the shard keys in ``keys``; this package applies
them."""
