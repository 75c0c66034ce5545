"""The one pagination scheme every list endpoint shares: limit, offset, order, after."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import Invalid
from .validation import Rules

T = TypeVar("T")

MAX_LIMIT = 100


@dataclass(frozen=True)
class Page:
    limit: int = MAX_LIMIT
    offset: int = 0
    order: str = "desc"
    after: str | None = None  # id (or other key) of the item the page starts after


def parse_page(query: Mapping[str, str]) -> Page:
    rules = Rules(query)
    rules.integer("limit", min=1, max=MAX_LIMIT)
    rules.integer("offset", min=0)
    rules.choice("order", ("asc", "desc"))
    if rules.errors:
        raise Invalid(rules.errors)
    return Page(
        limit=int(query.get("limit") or MAX_LIMIT),
        offset=int(query.get("offset") or 0),
        order=query.get("order") or "desc",
        after=query.get("after") or None,
    )


def _id(item: Any) -> tuple[str, ...]:
    return (item.id,)


def paginate(
    items: Sequence[T],
    page: Page,
    render: Callable[[T], Any],
    *,
    keys: Callable[[T], tuple[str, ...]] = _id,
) -> dict[str, Any]:
    """`{"total_count", "data"}` for one page of `items`, which come oldest first.

    Works on indexes, so only the page itself is reversed and rendered: a page out of
    tens of thousands of sessions costs the same as a page out of ten.
    """
    total = len(items)

    def at(position: int) -> T:
        return items[position] if page.order == "asc" else items[total - 1 - position]

    start = page.offset
    if page.after is not None:
        after = next((p for p in range(total) if page.after in keys(at(p))), None)
        if after is None:
            raise Invalid({"after": ["The selected after is invalid."]})
        start += after + 1
    return {
        "total_count": total,
        "data": [render(at(p)) for p in range(start, min(start + page.limit, total))],
    }
