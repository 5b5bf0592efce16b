"""Active-active replicas (``--sharding``): membership Leases, the sharder that labels each
JobFlow and CronJobFlow with its owner, and the drain guard that lets a live owner hand a flow
over. The decisions are pure (``zenflow.core.sharding``); this package applies them."""
