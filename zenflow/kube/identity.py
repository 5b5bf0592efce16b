"""Who the API server thinks we are: a SelfSubjectReview (authentication.k8s.io/v1).

Clients that must state their own identity in an object (an approval names its approver, and
the admission webhook refuses any other name) ask the API server rather than guessing from the
kubeconfig: tokens, client certificates, exec plugins and OIDC all end up as the same
``userInfo`` the webhook will see."""

from __future__ import annotations

from kubernetes_asyncio import client

from zenflow.errors import KubeError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S
from zenflow.kube.errors import wrapped


async def whoami(api: client.ApiClient) -> str:
    """The authenticated user name (``kubectl auth whoami``)."""
    body = client.V1SelfSubjectReview(
        api_version="authentication.k8s.io/v1", kind="SelfSubjectReview"
    )
    async with wrapped("create selfsubjectreview"):
        review = await client.AuthenticationV1Api(api).create_self_subject_review(
            body, _request_timeout=DEFAULT_REQUEST_TIMEOUT_S
        )
    username = (
        review.status.user_info.username if review.status and review.status.user_info else None
    )
    if not username:
        raise KubeError("the API server did not say who we are (SelfSubjectReview without user)")
    return str(username)
