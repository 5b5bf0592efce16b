"""The web UI (``zenflow ui``): watch, understand and act on flows in the browser.

An aiohttp server that acts with the user's own credentials (RBAC is exactly theirs) and pushes
live changes from Kubernetes watches to the browser as Server-Sent Events. Modules, one job
each: ``app`` (server and lifecycle), ``security`` (host check, login, CSRF, CSP), ``watch``
(informers and their health), ``hub`` and ``sse`` (the watch → browser bridge), ``routes``
(pages, snapshots, streams), ``logs`` (step logs), ``actions`` (the ``kubectl jobflow`` verbs),
``views`` (what a page is sent) and ``layout`` (the pure DAG layout). The front end is plain
JavaScript and CSS in ``static/``, shipped in the package: no CDN, no build step.

Layering: above ``zenflow.controller``/``webhook``; imports only api, core, kube, machinery,
display, errors and logging.
"""

from zenflow.ui.app import UiServer, build_app, new_login_token, serve
from zenflow.ui.state import UiOptions

__all__ = ["UiOptions", "UiServer", "build_app", "new_login_token", "serve"]
