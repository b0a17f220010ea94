"""Merchant settings: allowed domains for the widget (DESIGN §6)."""

from pydantic import Field

from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel
from app.http.routing import Call, Endpoint
from app.services import domains
from app.services.domains import MAX_DOMAINS, DomainError


class DomainList(ApiModel):
    allowed_domains: list[str] = Field(
        description="Hostnames (punycode) and `*.` wildcards; empty means any origin."
    )


class PutDomains(ApiInput):
    allowed_domains: list[str] = Field(max_length=MAX_DOMAINS)


async def get_domains_handler(call: Call) -> DomainList:
    async with call.platform.sessions() as session:
        stored = await domains.get_domains(session, call.merchant_id)
    return DomainList(allowed_domains=list(stored))


async def put_domains_handler(call: Call) -> DomainList:
    body: PutDomains = call.body
    normalized, problems = [], []
    for index, entry in enumerate(body.allowed_domains):
        try:
            normalized.append(domains.normalize_domain(entry))
        except DomainError as exc:
            problems.append(
                {
                    "field": f"allowedDomains.{index}",
                    "in": "body",
                    "value": entry[:300],
                    "message": str(exc),
                }
            )
    if problems:
        raise ApiError(ErrorCode.VALIDATION_FAILED, "Some domains are not valid.", details=problems)
    async with call.platform.sessions() as session:
        stored = await domains.set_domains(session, call.merchant_id, normalized)
    call.platform.forget_domains(call.merchant_id)
    return DomainList(allowed_domains=list(stored))


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/merchants/{merchantId}/domains",
        handler=get_domains_handler,
        summary="Get the domains allowed to embed the widget",
        tag="merchants",
        permission="settings:read",
        response=DomainList,
    ),
    Endpoint(
        method="PUT",
        path="/api/merchants/{merchantId}/domains",
        handler=put_domains_handler,
        summary="Replace the domains allowed to embed the widget",
        tag="merchants",
        permission="settings:write",
        body=PutDomains,
        response=DomainList,
    ),
]
