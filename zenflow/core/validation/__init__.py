"""The one validator of JobFlows and CronJobFlows, run by the webhook, the controller and
``zenflow validate``: ``validate_object(obj) -> Report`` never raises, and every problem names
the field it is about.

``validator`` is the entry point; ``structure`` checks the shape against the models,
``meta`` the object's metadata, ``steps`` each step, ``refs`` the references between steps
(``{{ }}`` and ``when``), ``template`` the Job templates, ``values`` params and values,
``cron`` schedules, and ``problems`` holds the report types.
"""
