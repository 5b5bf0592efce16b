"""Typed models of the ``workflow.zen.io/v1alpha1`` API (JobFlow, CronJobFlow) and the CRDs made
from them. Pure: imports nothing that does I/O."""
