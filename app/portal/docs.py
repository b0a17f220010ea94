"""The guides: docs/*.md and widget/README.md rendered as pages, and the API reference link.

Markdown is rendered by markdown-it-py with raw HTML off (any `<tag>` in a guide is shown as
text, never run) and its default link check (no `javascript:` URLs). Headings get GitHub's
anchors so the guides' own `#section` links work, and links between guides stay in the portal.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.web import raise_not_found, render, require

ROOT = Path(__file__).resolve().parents[2]
ACTIVE = "/portal/docs"
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_NOT_SLUG = re.compile(r"[^\w\- ]", re.U)


@dataclass(frozen=True, slots=True)
class Guide:
    slug: str
    path: Path

    @property
    def title(self) -> str:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
        return self.slug


def guides() -> dict[str, Guide]:
    """Every guide by its URL name: docs/<name>.md (and docs/<dir>/<name>.md), the widget's."""
    found = {"widget": Guide("widget", ROOT / "widget" / "README.md")}
    for path in sorted((ROOT / "docs").rglob("*.md")):
        slug = path.relative_to(ROOT / "docs").with_suffix("").as_posix().replace("/", "-")
        found[slug] = Guide(slug, path)
    return found


def _slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens."""
    return _NOT_SLUG.sub("", text.strip().lower()).replace(" ", "-")


def _portal_link(href: str, names: dict[str, str]) -> str:
    """A link to another guide's file becomes its portal page (anchor kept)."""
    target, _, anchor = href.partition("#")
    if not target.endswith(".md") or "://" in target:
        return href
    slug = names.get(Path(target).as_posix().split("/")[-1]) or names.get(target)
    if slug is None:
        return href
    return f"{ACTIVE}/{slug}" + (f"#{anchor}" if anchor else "")


@lru_cache(maxsize=64)
def _render(path: Path, modified: float) -> Markup:
    by_file = {
        g.path.name if g.slug != "widget" else "README.md": g.slug for g in guides().values()
    }
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = markdown.parse(_COMMENT.sub("", path.read_text(encoding="utf-8")))
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", _slug(tokens[index + 1].content))
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("href", _portal_link(str(child.attrGet("href") or ""), by_file))
    rendered = markdown.renderer.render(tokens, markdown.options, {})
    # A wide code block scrolls: keyboard users must be able to focus it to scroll it. With
    # html off, every <pre> is the renderer's own.
    rendered = rendered.replace("<pre>", '<pre tabindex="0">')
    # markdown-it escapes all text and, with html off, every tag in the source.
    return Markup(rendered)  # noqa: S704


async def docs_index(request: Request) -> Response:
    await require(request)
    return render(request, "docs.html", {"guides": guides().values(), "guide": None}, active=ACTIVE)


async def docs_page(request: Request) -> Response:
    await require(request)
    guide = guides().get(request.path_params["slug"])
    if guide is None:
        raise_not_found("guide")
    body = _render(guide.path, guide.path.stat().st_mtime)
    context = {"guides": guides().values(), "guide": guide, "body": body}
    return render(request, "docs.html", context, active=ACTIVE)


ROUTES = [
    Route("/docs", docs_index, methods=["GET"]),
    Route("/docs/{slug}", docs_page, methods=["GET"]),
]
