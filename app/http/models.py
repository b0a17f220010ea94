"""Base models shared by every route: camelCase on the wire, strict about unknown fields."""

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_HasId)


class ApiModel(BaseModel):
    """Response bodies: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ApiInput(ApiModel):
    """Request bodies: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=False, validate_by_alias=True, extra="forbid"
    )


class PageQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100, description="Items per page (1-100).")
    cursor: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_]+$",
        description="The `nextCursor` of the previous page.",
    )


class Page(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


def split_page(rows: Sequence[R], limit: int) -> tuple[list[R], str | None]:
    """Rows fetched with `limit + 1`: the page, and the `nextCursor` (the last row's id) when
    the extra row proved there is more."""
    page = list(rows[:limit])
    return page, (page[-1].id if len(rows) > limit and page else None)
