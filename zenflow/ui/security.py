"""What keeps the UI's power (it acts with the user's own credentials) inside the user's browser.

Every request passes ``guard``:

1. **Host check** (against DNS rebinding): the Host header must name loopback (``127.0.0.1``,
   ``localhost``, ``[::1]``) or a host allowed by ``--allowed-host``; a page on another site
   whose name resolves to 127.0.0.1 gets 403.
   ``/healthz`` (liveness, says nothing about the cluster) skips the next two checks.
2. **Login token** (unless disabled for an in-cluster read-only server behind port-forward):
   the URL printed at start carries ``?token=…``; a matching token sets an HttpOnly,
   SameSite=Strict session cookie (a value of its own, not the token) and redirects to the same
   URL without it. Anything else without that cookie gets 401, so other local users and other
   sites cannot use the server.
3. **CSRF** on every state-changing method: the ``X-CSRF-Token`` header must equal the token
   the page was served in a ``<meta>`` (derived from the server's secret), and an ``Origin``
   header, when present, must be this server's. The action routes also take JSON only, which
   a cross-site form cannot send without a preflight.

``add_headers`` puts a strict Content-Security-Policy (scripts, styles and connections from
this origin only; no inline script or style, no frames) and the usual hardening headers on
every response, streams included. Secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HARDENING = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PARAM = "token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class Guard:
    """The server's secrets and policy. ``login_token`` None disables the login step."""

    login_token: str | None
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def create(cls, *, login_token: str | None, extra_hosts: Iterable[str] = ()) -> Guard:
        hosts = LOOPBACK_HOSTS | {h.strip().lower() for h in extra_hosts if h.strip()}
        return cls(login_token=login_token, allowed_hosts=frozenset(hosts))

    def _derive(self, purpose: str) -> str:
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def csrf_token(self) -> str:
        return self._derive("csrf")

    @property
    def session_value(self) -> str:
        return self._derive("session")

    @property
    def cookie_name(self) -> str:
        # Per server instance: two UIs on one host (different ports) keep separate sessions.
        return "zenflow-ui-" + self._derive("cookie-name")[:12]

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        name = host.strip().lower()
        if name.startswith("["):  # [::1]:8080
            name = name[: name.find("]") + 1]
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        return name in self.allowed_hosts

    def logged_in(self, request: web.Request) -> bool:
        if self.login_token is None:
            return True
        cookie = request.cookies.get(self.cookie_name, "")
        return hmac.compare_digest(cookie.encode(), self.session_value.encode())

    def csrf_ok(self, request: web.Request) -> bool:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            return False
        origin = request.headers.get("Origin")
        return origin is None or origin == f"{request.scheme}://{request.host}"


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response({"error": message, "status": status}, status=status)
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def guard_middleware(guard: Guard) -> Middleware:
    @web.middleware
    async def guard_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not guard.host_allowed(request.host):
            return _refuse(request, 403, f"unexpected Host header {request.host!r}")
        if request.path == HEALTH_PATH and request.method == "GET":
            return await handler(request)  # liveness probes carry no session
        token = request.query.get(TOKEN_PARAM)
        if guard.login_token is not None and token is not None and request.method == "GET":
            if not hmac.compare_digest(token.encode(), guard.login_token.encode()):
                return _refuse(request, 401, "wrong login token")
            query = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
            target = request.rel_url.with_query(query)
            response = web.Response(status=303, headers={"Location": str(target)})
            response.set_cookie(
                guard.cookie_name,
                guard.session_value,
                httponly=True,
                samesite="Strict",
                path="/",
            )
            return response
        if not guard.logged_in(request):
            return _refuse(
                request,
                401,
                "not logged in: open the URL with ?token=… that `zenflow ui` printed",
            )
        if request.method not in SAFE_METHODS and not guard.csrf_ok(request):
            return _refuse(request, 403, "missing or wrong CSRF token (reload the page)")
        return await handler(request)

    return guard_request


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: hardening headers on every response, streams included."""
    for name, value in HARDENING.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path == "/":
        response.headers.setdefault("Cache-Control", "no-store")
