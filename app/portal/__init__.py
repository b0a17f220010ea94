"""The merchant developer portal: server-rendered pages under /portal (DESIGN §17).

How to add a page (see `keys.py` for a complete one):

1. **Module**: `app/portal/<page>.py` with async handlers `(request: Request) -> Response` and a
   `ROUTES` list of Starlette `Route`s, paths relative to /portal (`Route("/catalog", ...)`).
   A GET and a POST on one path are two `Route`s with `methods=[...]`.
2. **Registration**: add `*<page>.ROUTES` to `ROUTES` in `app/portal/pages.py`. The nav entry
   is in `web.NAV` (label, path, permission): it already lists Overview, API keys, Domains,
   Catalog, Webhooks, Widget, Analytics, Docs and Team.
3. **Permission**: the first line of every handler is
   `user = await require(request, api_permission("GET", "/api/merchants/{merchantId}/..."))`:
   the permission the matching API route declares, so the portal and the API never disagree.
   `require` sends a signed-out browser to the sign-in page and answers a 403 page to a role
   without the permission. Scope every query by `user.merchant_id`, and call the same service
   function the API route calls; an id of another merchant gets `raise_not_found("...")`.
   Hide what the role cannot do with `{% if user.can("sync:write") %}` in the template, and
   still check it in the POST handler (hidden is not refused).
4. **Template**: `templates/<page>.html` starting `{% extends "base.html" %}`, with
   `{% block title %}` and `{% block content %}`; render with
   `render(request, "<page>.html", {...}, active="/portal/<page>")`. No inline `<script>` or
   `style=` (the CSP forbids them): styles go in `static/portal.css`, behaviour (sparingly) in
   `static/portal.js`. Put `{% import "_macros.html" as m %}` at the top for `m.when(dt)`,
   `m.copy_box(...)` and `m.post_button(...)`.
5. **Forms**: every state-changing form is `method="post"` and carries
   `<input type="hidden" name="csrf" value="{{ csrf }}">`; its handler reads the body with
   `data = await form(request)` (checks CSRF and Origin, 403 page if wrong), then `field(data,
   "name")`. Answer success with `redirect("/portal/...")` (303); answer bad input by rendering
   the page again with status 422 and the error next to its field (`aria-invalid`,
   `aria-describedby`). Raise `PortalError(status, title, message)` for anything else: it
   becomes a page, never JSON. An `ApiError` from shared API code becomes a page too.
6. **Tests**: `tests/portal/`, with the fixtures of `tests/portal/conftest.py`: in-process,
   `client` + `account` (a merchant with an owner, a developer and a viewer),
   `sign_in_as(client, account.users["viewer"])` and `post_form(client, path, data, page=...)`
   (posts with a CSRF token taken from `page`, as the browser would); in Chromium,
   `portal_page("developer")` (a signed-in page against the `api` uvicorn process) and
   `axe_check(page)` (serious and critical axe-core violations; expect `[]`).
"""
