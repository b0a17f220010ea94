"""The product catalog: search and filter the merchant's products, read one (DESIGN §8).

Not behind `product_sync_enabled`: that flag stops catalogs changing; reading the catalog
already synced stays available while it is off.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from app.db.models import Product
from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiModel, Page
from app.http.routing import Call, Endpoint
from app.parsing import plain_decimal
from app.routes.sync_models import NO_NUL
from app.services.catalog.search import BadCursor, ProductFilter, get_product, list_products
from app.services.catalog.values import format_price

Availability = Literal["in_stock", "out_of_stock", "preorder", "backorder"]
Price = Field(None, ge=0, max_digits=18, decimal_places=4)


def _plain_number(value: Any) -> Any:
    return plain_decimal(value.strip()) if isinstance(value, str) else value


PriceText = Annotated[Decimal, BeforeValidator(_plain_number)]


class ProductQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page (1-100).")
    cursor: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="The `nextCursor` of the previous page."
    )
    q: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="Words to search for (all must match)."
    )
    availability: Availability | None = None
    brand: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="Exact brand (any case)."
    )
    category: str | None = Field(
        None,
        max_length=500,
        pattern=NO_NUL,
        description="A category, or a path prefix such as `Apparel`.",
    )
    # Query parameters are named as on the wire (camelCase), like the OpenAPI document.
    minPrice: PriceText | None = Price
    maxPrice: PriceText | None = Price
    visibleToShoppers: bool | None = Field(
        None, description="`false`: only products hidden from shoppers; `true`: only the others."
    )


class VariantOut(ApiModel):
    id: str | None = Field(None, description="The variant's id in your shop (SKU, `id:<ID>`...).")
    sku: str | None = None
    title: str | None = None
    options: dict[str, str] = Field(
        default_factory=dict, description='What tells it apart: {"Color": "Red", "Size": "M"}.'
    )
    price: str
    compare_at_price: str | None = None
    availability: Availability
    quantity: int | None = None
    gtin: str | None = None
    url: str | None = None
    image_url: str | None = None


class ProductOut(ApiModel):
    id: str
    external_id: str = Field(description="Your id for the product (SKU, handle...).")
    title: str
    description: str | None
    brand: str | None
    category: str | None
    price: str = Field(description="Exact decimal, as text: 19.99. With variants: the lowest.")
    compare_at_price: str | None
    max_price: str | None = Field(
        description="The highest variant price when the variants' prices differ, else null."
    )
    currency: str
    availability: Availability
    url: str | None
    image_url: str | None
    images: list[str]
    variants: list[VariantOut] = Field(description="One product, its variants as options.")
    visible_to_shoppers: bool = Field(
        description="False: hidden or unpublished in your shop; never shown to shoppers."
    )
    tags: list[str]
    gtin: str | None
    mpn: str | None
    group_id: str | None
    attributes: dict[str, str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> "ProductOut":
        data: dict[str, Any] = product.data or {}
        return cls(
            id=product.id,
            external_id=product.external_id,
            title=product.title,
            description=product.description,
            brand=product.brand,
            category=product.category,
            price=format_price(product.price, product.currency),
            compare_at_price=(
                format_price(product.compare_at_price, product.currency)
                if product.compare_at_price is not None
                else None
            ),
            max_price=(
                format_price(product.max_price, product.currency)
                if product.max_price is not None
                else None
            ),
            currency=product.currency,
            availability=product.availability,
            url=product.url,
            image_url=product.image_url,
            images=data.get("images") or ([product.image_url] if product.image_url else []),
            variants=[VariantOut.model_validate(item) for item in product.variants or []],
            visible_to_shoppers=product.visible_to_shoppers,
            tags=data.get("tags", []),
            gtin=data.get("gtin"),
            mpn=data.get("mpn"),
            group_id=data.get("groupId"),
            attributes=data.get("attributes", {}),
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


class ProductPage(Page[ProductOut]):
    pass


async def list_products_handler(call: Call) -> ProductPage:
    query: ProductQuery = call.query
    wanted = ProductFilter(
        q=query.q,
        availability=query.availability,
        brand=query.brand,
        category=query.category,
        min_price=query.minPrice,
        max_price=query.maxPrice,
        visible_to_shoppers=query.visibleToShoppers,
    )
    try:
        async with call.platform.sessions() as session:
            rows, cursor = await list_products(
                session, call.merchant_id, wanted, limit=query.limit, cursor=query.cursor
            )
    except BadCursor as exc:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "The cursor is not valid for this query.",
            details=[{"field": "cursor", "in": "query", "message": str(exc)}],
        ) from None
    return ProductPage(items=[ProductOut.of(row) for row in rows], next_cursor=cursor)


async def get_product_handler(call: Call) -> ProductOut:
    async with call.platform.sessions() as session:
        product = await get_product(session, call.merchant_id, call.path["productId"])
    if product is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such product.")
    return ProductOut.of(product)


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/merchants/{merchantId}/products",
        handler=list_products_handler,
        summary="Search and filter products",
        description="With `q`, ranked by relevance; without, in id order.",
        tag="products",
        permission="products:read",
        query=ProductQuery,
        response=ProductPage,
    ),
    Endpoint(
        method="GET",
        path="/api/merchants/{merchantId}/products/{productId}",
        handler=get_product_handler,
        summary="Get one product",
        tag="products",
        permission="products:read",
        response=ProductOut,
    ),
]
