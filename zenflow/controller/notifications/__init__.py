"""Delivering JobFlow notifications (``spec.notifications``, or the controller-wide default):
their own queue and workers beside the JobFlow controller, so a slow or failing receiver never
delays a reconcile. ``zenflow.core.notifications`` decides what is due; this package reads the
sink URLs from Secrets, POSTs the CloudEvent or Slack body, and records deliveries in status."""
