"""Mbin / kbin.

Endpoint: `GET /api/defederated` -> `{"instances": [...]}` (severity suspend, raw word
`defederated`). Mbin has no peers endpoint.
"""

from __future__ import annotations

from typing import ClassVar

from crawler.adapters.base import Visit, register, visibility_of
from crawler.lenient import mapping, sequence
from crawler.observation import ERROR, PUBLIC, UNSUPPORTED, ListResult


@register
class MbinAdapter:
    families: ClassVar[tuple[str, ...]] = ("mbin",)

    async def collect(self, visit: Visit) -> None:
        visit.unsupported(peers=True)
        answer = await visit.get_json("/api/defederated")
        visibility = visibility_of(answer, missing=UNSUPPORTED)
        instances = mapping(answer.value).get("instances")
        if visibility == PUBLIC and not isinstance(instances, list):
            visibility = ERROR
        rules = [visit.rule(host, "defederated") for host in sequence(instances)]
        visit.set_blocks(ListResult(visibility, rules))
