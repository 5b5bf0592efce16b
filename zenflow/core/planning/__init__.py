"""The planner: ``plan(flow, observed, now) -> Plan``, the pure decision of one reconcile.

``plan`` decides the flow (cancel, replace, deadline, queueing, phase, TTL); ``steps`` walks the
DAG deciding each step, from its state as ``derive`` reads it off the Jobs, through
``readiness``, ``retry``, ``matrix`` (fan-out shards) and ``jobspec`` (the Job to create);
``rerun`` handles user-requested retries; ``flowstatus`` builds counts, conditions and Events;
``concurrency``, ``deadlines`` and ``outputs`` are the single rules they name. Beside ``plan``, the
reconciler asks three pure questions: ``finished`` (a settled flow, read off the raw object:
only its TTL counts), ``invalid`` (the plan of a flow the validator refuses) and
``outputreads`` (which outputs to read, and what the answers mean).
"""
