"""The CronJobFlow controller: creates JobFlow runs on a schedule (CronJob → Job, one level up).
``reconciler`` decides and applies, ``client`` is its API access, ``events`` its Events."""
