"""Helpers for the catalog tests: upload files, follow runs, read the catalog."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from app.services.catalog.execute import wait_for_background
from tests.conftest import MerchantKeys

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def upload(
    client: TestClient,
    merchant: MerchantKeys,
    content: bytes,
    *,
    content_type: str = "text/csv",
    filename: str | None = None,
    multipart: bool = False,
    expect: int = 202,
    **params: Any,
) -> dict[str, Any]:
    """Upload and wait for the run; the run (or, for an error status, the whole body)."""
    url = f"/api/merchants/{merchant.id}/products/upload"
    query = {
        "wait": "true",
        **{k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()},
    }
    if multipart:
        files = {"file": (filename or "catalog", content, content_type)}
        response = client.post(url, headers=merchant.auth, params=query, files=files)
    else:
        if filename:
            query["filename"] = filename
        headers = {**merchant.auth, "Content-Type": content_type}
        response = client.post(url, headers=headers, params=query, content=content)
    assert response.status_code == expect, response.text
    body = response.json()
    return body["data"] if response.status_code < 400 else body


def run_detail(client: TestClient, merchant: MerchantKeys, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/merchants/{merchant.id}/sync/runs/{run_id}", headers=merchant.auth)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def settle(client: TestClient) -> None:
    """Wait for background runs started by the app (trigger, upload without wait)."""
    client.portal.call(wait_for_background)  # type: ignore[union-attr]


def all_products(client: TestClient, merchant: MerchantKeys, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(
            f"/api/merchants/{merchant.id}/products", headers=merchant.auth, params=query
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def by_external_id(products: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {product["externalId"]: product for product in products}


def db(client: TestClient, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` with a session on the app's own event loop and engine; commits."""
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def run() -> T:
        async with sessions() as session:
            result = await work(session)
            await session.commit()
            return result

    return client.portal.call(run)  # type: ignore[union-attr]


def catalog_rows(client: TestClient, merchant: MerchantKeys) -> list[tuple[Any, ...]]:
    """Every stored column of the merchant's products, to compare byte for byte."""

    async def read(session: AsyncSession) -> list[tuple[Any, ...]]:
        result = await session.execute(
            text("SELECT * FROM products WHERE merchant_id = :m ORDER BY pk"), {"m": merchant.id}
        )
        return [tuple(row) for row in result.all()]

    return db(client, read)


def csv_catalog(count: int, *, prefix: str = "P", price: str = "10.00", start: int = 0) -> bytes:
    lines = ["sku,title,description,price,brand,category,availability"]
    lines += [
        f"{prefix}-{i:06d},Product {i},Description of product {i},{price},Acme,Tools,in stock"
        for i in range(start, start + count)
    ]
    return ("\n".join(lines) + "\n").encode()
