"""AttributeRepo: one row per (scope, resource type); the most specific containing scope wins."""

from __future__ import annotations

import pytest

from aloft_admin.repositories.keys import Scope
from aloft_admin.repositories.models.entities import MatchableAttributeRow
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import AlreadyExists

from .conftest import T0

QUEUE, LABELS = "EXECUTION_QUEUE", "EXECUTION_CLUSTER_LABEL"


def attributes(scope: Scope, resource_type: str = QUEUE) -> MatchableAttributeRow:
    return MatchableAttributeRow(
        org=scope.org, project=scope.project, domain=scope.domain, workflow=scope.workflow,
        launch_plan=scope.launch_plan, resource_type=resource_type, priority=scope.priority,
        attributes=f"{scope.priority}".encode(), created_at=T0, updated_at=T0,
    )  # fmt: skip


async def test_most_specific_scope_wins(repos: SqlRepositories) -> None:
    scopes = [Scope("p"), Scope("p", "d"), Scope("p", "d", "wf"), Scope("p", "d", "wf", "lp"), Scope("q", "d")]
    async with repos.transaction() as tx:
        for scope in scopes:
            tx.attributes.add(attributes(scope))
        tx.attributes.add(attributes(Scope("p"), LABELS))
    async with repos.transaction() as tx:

        async def winner(scope: Scope, resource_type: str = QUEUE) -> bytes | None:
            row = await tx.attributes.most_specific(scope, resource_type)
            return None if row is None else row.attributes

        assert await winner(Scope("p", "d", "wf", "lp")) == b"1000"
        assert await winner(Scope("p", "d", "wf", "other")) == b"100"
        assert await winner(Scope("p", "d", "other")) == b"10"
        assert await winner(Scope("p", "e")) == b"5"
        assert await winner(Scope("r", "d")) is None
        both = await tx.attributes.most_specific_each(
            Scope("p", "d", "wf"), [QUEUE, LABELS, "WORKFLOW_EXECUTION_CONFIG"]
        )
        assert {k: v.attributes for k, v in both.items()} == {QUEUE: b"100", LABELS: b"5"}
        exact = await tx.attributes.get(Scope("p", "d"), QUEUE)
        assert exact is not None and exact.attributes == b"10"
        assert await tx.attributes.get(Scope("p", "e"), QUEUE) is None
        listed = await tx.attributes.all_of_type(QUEUE, "")
        assert [(r.project, r.domain, r.workflow, r.launch_plan) for r in listed] == [
            ("p", "", "", ""), ("p", "d", "", ""), ("p", "d", "wf", ""), ("p", "d", "wf", "lp"), ("q", "d", "", "")
        ]  # fmt: skip
        await tx.attributes.delete(listed[0])
    async with repos.transaction() as tx:
        assert await tx.attributes.get(Scope("p"), QUEUE) is None
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            tx.attributes.add(attributes(Scope("p", "d")))
