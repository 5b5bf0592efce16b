"""The validating admission webhook: the front door that refuses invalid JobFlows.

``admission`` turns an AdmissionReview into a decision (pure) using the shared validator and the
``update_rules``; ``server`` serves it over HTTPS (aiohttp); ``certs`` (pure) and ``certstore``
(Secret, files, caBundle) provide its certificate. It runs in the controller process on every
replica, or alone via ``zenflow webhook``.
"""
