"""flytectl field selectors → admin filter expressions (the syntax of flytectl's pkg/filters)."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2

from aloftctl.filters import FilterError, ListOptions, split_terms, to_admin_filters


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("execution.phase in (FAILED)", "value_in(execution.phase,FAILED)"),
        ("execution.phase in (FAILED;SUCCEEDED)", "value_in(execution.phase,FAILED;SUCCEEDED)"),
        ("phase=RUNNING", "eq(phase,RUNNING)"),
        ("execution.duration<200", "lt(execution.duration,200)"),
        ("execution.duration<=200", "lte(execution.duration,200)"),
        ("execution.duration>=200", "gte(execution.duration,200)"),
        ("execution.duration>200", "gt(execution.duration,200)"),
        ("task.name!=foo", "ne(task.name,foo)"),
        ("workflow.name contains pipe", "contains(workflow.name,pipe)"),
        (
            "execution.phase=FAILED,execution.duration>=10",
            "eq(execution.phase,FAILED)+gte(execution.duration,10)",
        ),
        ("project.name=a\\,b", "eq(project.name,a,b)"),
        ("", ""),
    ],
)
def test_field_selector_becomes_admin_filters(selector: str, expected: str) -> None:
    assert to_admin_filters(selector) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("execution.phase", "no operator"),
        ("=FAILED", "needs a key and a value"),
        ("execution.phase in ()", "empty value list"),
        ("name=a\\qb", "invalid escape sequence"),
        ("name=a\\", "lone backslash"),
    ],
)
def test_bad_selectors_name_the_term(selector: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        to_admin_filters(selector)


def test_escaped_commas_do_not_split_terms() -> None:
    assert split_terms("a=1\\,2,b=3") == ["a=1\\,2", "b=3"]


def test_list_options_build_flytectls_request() -> None:
    options = ListOptions(field_selector="execution.phase in (FAILED)", limit=5, sort_by="created_at", asc=True, page=3)
    request = options.resource_list_request("p", "d", "name")
    assert request.id == common_pb2.NamedEntityIdentifier(project="p", domain="d", name="name")
    assert request.limit == 5
    assert request.token == "10"  # page 3 of 5 starts at offset 10
    assert request.filters == "value_in(execution.phase,FAILED)"
    assert request.sort_by == common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING)
    assert ListOptions().resource_list_request("p", "d").sort_by.direction == common_pb2.Sort.DESCENDING
