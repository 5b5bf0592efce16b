"""The JobFlow controller: the thin reconciler that reads the informer caches, asks the pure
planner (``zenflow.core.planning``) once, applies the plan through ``client`` (``FlowClient``,
the API client for flows and Jobs) and writes the status; ``parsing`` caches validated specs,
``observed`` builds the planner's view of Jobs, peers and outputs, ``memory`` holds what the
reconciler remembers per flow between reconciles, ``metrics`` the flow metrics."""
