"""Paging as ConnectWise does it: page/pageSize with a `Link` header, or forward-only with pageId."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
# Commas inside the URLs must be encoded: pyconnectwise splits the Link header on ","
# and reads `page=(\d+)>; rel="..."` from each piece, so `page=` must also come last.
SAFE_IN_QUERY = "/:[]()!*@$;"


@dataclass(frozen=True)
class Page:
    """One page of results and what the Link header should say about the others."""

    items: list
    total: int
    links: dict[str, str]  # rel -> value of page (navigable) or pageId (forward-only)


def navigable_links(page: int, page_size: int, total: int) -> dict[str, str]:
    last = max(1, -(-total // page_size))
    links: dict[str, str] = {}
    if page > 1:
        links["first"] = "1"
        links["prev"] = str(min(page - 1, last))
    if page < last:
        links["next"] = str(page + 1)
        links["last"] = str(last)
    return links


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(name, safe='')}={quote(value, safe=SAFE_IN_QUERY)}" for name, value in pairs)


def link_header(base_url: str, kept_params: list[tuple[str, str]], links: dict[str, str], param: str) -> str:
    """`<url?...&page=2>; rel="next", ...` with `param` (page or pageId) last in every URL."""
    kept = encode_query(kept_params) + "&" if kept_params else ""  # encoded once for every link
    name = quote(param, safe="")
    parts = []
    for rel, value in links.items():
        query = f"{kept}{name}={quote(value, safe=SAFE_IN_QUERY)}"
        parts.append(f'<{base_url}?{query}>; rel="{rel}"')
    return ", ".join(parts)
