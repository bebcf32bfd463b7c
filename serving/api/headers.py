"""Security headers on every answer of the API, and the Content-Security-Policy of each page.

The API answers JSON, which a browser should never run, frame or sniff into something else;
the few HTML pages it serves each get the narrowest policy under which they still work:

- JSON and everything else: nothing may load and nothing may frame it (`API_POLICY`);
- the daily report (`GET /relatorios/{data}/html`) is self-contained and styled by its own
  `<style>` and `style` attributes, with no script at all (`REPORT_POLICY`);
- Swagger UI (`/docs`) and its OAuth2 redirect page set their own policy (`swagger_ui_policy`,
  called by serving/api/docs.py): assets and calls to the API itself, and the page's own inline
  script by hash.

Answers are never stored by a browser or a shared cache (they hold tokens and members'
personal data), except packaged assets (the Swagger UI bundle). A header the route set itself
is kept."""

import base64
import hashlib
import re
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY: Final = "Content-Security-Policy"
_NO_FRAMING: Final = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
API_POLICY: Final = f"default-src 'none'; {_NO_FRAMING}"
REPORT_POLICY: Final = f"default-src 'none'; style-src 'unsafe-inline'; {_NO_FRAMING}"
_REPORT_PAGE: Final = re.compile(r"/relatorios/[^/]+/html")

EVERY_ANSWER: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate CSP's frame-ancestors
    "Referrer-Policy": "no-referrer",
}

_INLINE_SCRIPT: Final = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def swagger_ui_policy(page: bytes) -> str:
    """The policy of a Swagger UI page of serving/api/docs.py: its assets, the spec and "Try it
    out" from the API itself, and the inline scripts of `page` by hash. The page is built from
    the app's constants, never from the request, so its scripts are the ones we wrote."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def route_path(scope: Scope) -> str:
    """The path the routes see: behind a proxy that strips a prefix, without it."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _policy(path: str) -> str:
    return REPORT_POLICY if _REPORT_PAGE.fullmatch(path) else API_POLICY


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers above to every answer that lacks them.
    `cacheable` are the path prefixes whose answers a browser may keep (packaged assets)."""

    def __init__(self, app: ASGIApp, cacheable: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERY_ANSWER.items():
                    headers.setdefault(name, value)
                headers.setdefault(CONTENT_SECURITY_POLICY, _policy(path))
                if not path.startswith(self.cacheable):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
