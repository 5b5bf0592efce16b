"""Who the API server thinks we are: a SelfSubjectReview (authentication.k8s.io/v1).

Clients that must state their own identity in an object (an approval names its approver, and
the admission webhook refuses any other name) ask the API server rather than guessing from the
kubeconfig: tokens, client certificates, exec plugins and OIDC all end up as the same
``userInfo`` the webhook will see. The review goes through the one request helper (``Rest``),
given one or an ``ApiClient`` to wrap (the CLI and the SDK hold an ``ApiClient``, the web UI a
``Rest``)."""

from __future__ import annotations

from typing import Final

from kubernetes_asyncio import client

from zenflow.errors import KubeError
from zenflow.kube.rest import Rest

SELF_SUBJECT_REVIEWS: Final = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


async def whoami(api: client.ApiClient | Rest) -> str:
    """The authenticated user name (``kubectl auth whoami``)."""
    rest = api if isinstance(api, Rest) else Rest(api)
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    review = await rest.request(
        "POST", SELF_SUBJECT_REVIEWS, body=body, what="create selfsubjectreview"
    )
    status = review.get("status")
    user_info = status.get("userInfo") if isinstance(status, dict) else None
    username = user_info.get("username") if isinstance(user_info, dict) else None
    if not username or not isinstance(username, str):
        raise KubeError("the API server did not say who we are (SelfSubjectReview without user)")
    return username
