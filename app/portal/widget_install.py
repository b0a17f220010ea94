"""Widget install (seed Task 1.6): the snippet of widget/README.md with this environment's
loader and API and the merchant's publishable key, appearance options, and a live preview.

The widget takes its appearance from the snippet's options (`theme.primaryColor`, `greeting`,
`position`, `locale`; widget/README.md §3); the API's widget config stores none, so choosing an
appearance here writes nothing: it changes the snippet, and the preview shows the result.

The preview is the real widget on a sandbox page served from another origin (a different host
name for the same server: WIDGET_PREVIEW_BASE_URL, or locally 127.0.0.1 ⇄ localhost). It holds
no session (the portal's cookie is host-only, scoped to /portal), its options travel as data in
the query, validated here and read by a static script, and only the portal may frame it.
"""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db.models import ApiKey
from app.portal.web import CSP, api_permission, platform_of, render, require, templates
from app.services.keys import find_by_plaintext, kind_of

README = Path(__file__).resolve().parents[2] / "widget" / "README.md"
_SNIPPET = re.compile(r"<!-- snippet:start -->\s*```html\n(.*?)```", re.S)
# The placeholders of the README's snippet, replaced with this environment's values.
README_LOADER = "https://cdn.ragassist.example.com/loader.js"
README_API = "https://api.ragassist.example.com"
README_KEY = "pk_live_YOUR_PUBLISHABLE_KEY"
DEFAULTS = {"color": "#1f6feb", "position": "bottom-right", "greeting": "", "locale": ""}
LOCALES = {"": "the shopper's browser", "en": "English", "de": "Deutsch", "fr": "Français",
           "es": "Español"}  # fmt: skip
POSITIONS = ("bottom-right", "bottom-left")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_GREETING = 200
ACTIVE = "/portal/widget"


def readme_snippet() -> str:
    found = _SNIPPET.search(README.read_text(encoding="utf-8"))
    assert found, "widget/README.md lost its snippet markers"
    return found[1]


def appearance(params: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The options asked for, each checked (bad ones fall back to the default), and problems."""
    values, problems = dict(DEFAULTS), {}
    colour = str(params.get("color", "") or DEFAULTS["color"]).strip()
    if _COLOUR.match(colour):
        values["color"] = colour.lower()
    else:
        problems["color"] = "Use a colour like #0a7d4f."
    position = str(params.get("position", "") or DEFAULTS["position"])
    if position in POSITIONS:
        values["position"] = position
    else:
        problems["position"] = "Choose bottom right or bottom left."
    greeting = str(params.get("greeting", "")).strip()
    if len(greeting) > MAX_GREETING or any(ord(c) < 32 for c in greeting):
        problems["greeting"] = f"One line of at most {MAX_GREETING} characters."
    else:
        values["greeting"] = greeting
    locale = str(params.get("locale", ""))
    if locale in LOCALES:
        values["locale"] = locale
    else:
        problems["locale"] = "Choose one of the listed languages."
    return values, problems


def options(values: dict[str, str], *, key: str, api: str) -> dict[str, Any]:
    """`new RAGAssistant(options)` for these values: only what differs from the defaults."""
    chosen: dict[str, Any] = {"publishableKey": key, "apiBaseUrl": api}
    if values["position"] != DEFAULTS["position"]:
        chosen["position"] = values["position"]
    if values["color"] != DEFAULTS["color"]:
        chosen["theme"] = {"primaryColor": values["color"]}
    if values["greeting"]:
        chosen["greeting"] = values["greeting"]
    if values["locale"]:
        chosen["locale"] = values["locale"]
    return chosen


def snippet(loader: str, chosen: dict[str, Any]) -> str:
    """The README's snippet with this environment's loader and the chosen options."""
    text = readme_snippet().replace(README_LOADER, loader)
    # `<` escaped: a greeting holding "</script>" must not end the merchant's script element.
    body = json.dumps(chosen, indent=2, ensure_ascii=False).replace("<", "\\u003c")
    # The README's style: unquoted keys, a trailing comma, indented inside the <script>.
    body = re.sub(r'^(\s*)"(\w+)":', r"\1\2:", body, flags=re.M)
    body = re.sub(r"(?<=[^{[,\s])\n", ",\n", body)
    lines = body.splitlines()
    call = (
        "new RAGAssistant("
        + "\n".join([lines[0], *("  " + line for line in lines[1:-1]), "  " + lines[-1]])
        + ");"
    )
    return re.sub(r"new RAGAssistant\(\{.*?\}\);", lambda _: call, text, flags=re.S)


def _other_loopback(request: Request) -> str | None:
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(request.url.hostname or "")
    if other is None:
        return None
    port = f":{request.url.port}" if request.url.port else ""
    return f"{request.url.scheme}://{other}{port}"


def preview_base(request: Request) -> str | None:
    """Seen from the portal: the sandbox origin (configured, or the other loopback name)."""
    return platform_of(request).settings.widget_preview_base_url or _other_loopback(request)


def portal_base(request: Request) -> str:
    """Seen from the sandbox page: the portal's (and the API's) origin."""
    settings = platform_of(request).settings
    if settings.widget_preview_base_url:
        return settings.public_base_url
    return _other_loopback(request) or settings.public_base_url


async def _publishable(request: Request, merchant_id: str, pasted: str) -> tuple[str, str | None]:
    """The pasted key if it is one of this merchant's live publishable keys, else why not."""
    if not pasted:
        return "", None
    if kind_of(pasted) != "publishable":
        return "", "That is not a publishable key (pk_live_…)."
    async with platform_of(request).sessions() as session:
        key = await find_by_plaintext(session, pasted)
    if key is None or key.merchant_id != merchant_id or key.revoked_at is not None:
        return "", "This key is not a live publishable key of this account."
    return pasted, None


async def widget_page(request: Request) -> Response:
    user = await require(request, api_permission("GET", "/api/merchants/{merchantId}/domains"))
    settings = platform_of(request).settings
    values, problems = appearance(request.query_params)
    key, key_problem = await _publishable(
        request, user.merchant_id, request.query_params.get("key", "")
    )
    if key_problem:
        problems["key"] = key_problem
    async with platform_of(request).sessions() as session:
        prefixes = list(
            await session.scalars(
                select(ApiKey.prefix).where(
                    ApiKey.merchant_id == user.merchant_id,
                    ApiKey.kind == "publishable",
                    ApiKey.revoked_at.is_(None),
                )
            )
        )
    chosen = options(values, key=key or README_KEY, api=settings.public_base_url)
    base = preview_base(request)
    preview = None
    if base and key:
        query = {"key": key, **{k: v for k, v in values.items() if v}}
        preview = f"{base}/portal/widget/preview?{urlencode(query)}"
    context = {
        "values": values,
        "problems": problems,
        "key": key,
        "prefixes": prefixes,
        "snippet": snippet(settings.widget_loader_url, chosen),
        "preview": preview,
        "preview_base": base,
        "locales": LOCALES,
        "positions": POSITIONS,
    }
    response = render(request, "widget.html", context, status=422 if problems else 200,
                      active=ACTIVE)  # fmt: skip
    if base:
        response.headers["Content-Security-Policy"] = f"{CSP}; frame-src {base}"
    return response


async def preview_page(request: Request) -> Response:
    """The sandbox shop page: public (it shows only what its query says, and loads only this
    environment's widget and API, never a URL from the query), framed only by the portal."""
    settings = platform_of(request).settings
    values, problems = appearance(request.query_params)
    key = request.query_params.get("key", "")
    # Only as a frame: opened directly, a page showing text from its URL could pass for ours.
    framed = request.headers.get("sec-fetch-dest", "iframe") == "iframe"
    if problems or kind_of(key) != "publishable" or not framed:
        return Response("Invalid preview options.", status_code=400, media_type="text/plain")
    portal = portal_base(request)
    loader = f"{settings.widget_base_url or portal + '/widget/'}loader.js"
    parts = urlsplit(loader)
    widget_origin = f"{parts.scheme}://{parts.netloc}"
    chosen = {**options(values, key=key, api=portal), "open": True}
    body = templates.get_template("widget_preview.html").render(
        options=json.dumps(chosen), loader=loader
    )
    csp = (
        f"default-src 'none'; script-src 'self' {widget_origin}; "
        f"connect-src {widget_origin} {portal}; img-src https: data:; style-src 'self'; "
        f"frame-ancestors {portal}; base-uri 'none'; form-action 'none'"
    )
    return Response(body, media_type="text/html", headers={"Content-Security-Policy": csp})


ROUTES = [
    Route("/widget", widget_page, methods=["GET"]),
    Route("/widget/preview", preview_page, methods=["GET"]),
]
