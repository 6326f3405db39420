"""grpc-gateway request mapping rules (pure: descriptors and messages, no server)."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2, execution_pb2, project_pb2, task_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.gateway.binding import build_request
from aloft_admin.gateway.descriptors import all_bindings, compile_template
from aloft_service.errors import InvalidArgument


def test_compile_template_names_parameters_positionally() -> None:
    path, params = compile_template("/api/v1/tasks/{id.project}/{id.domain}/{name=**}")
    assert path == "/api/v1/tasks/{p0}/{p1}/{p2:path}"
    assert [(p.field_path, p.wildcard) for p in params] == [("id.project", False), ("id.domain", False), ("name", True)]


def test_bindings_are_ordered_literal_segments_first() -> None:
    order = [b.template for b in all_bindings()]
    assert order.index("/api/v1/executions/recover") < order.index("/api/v1/executions/{id.project}/{id.domain}")


def test_path_params_fill_nested_fields_and_enums_by_name() -> None:
    request = build_request(
        common_pb2.NamedEntityIdentifierListRequest,
        "",
        b"",
        {"project": "p", "domain": "d"},
        [("limit", "5"), ("sort_by.direction", "ASCENDING"), ("sortBy.key", "name"), ("unknown", "ignored")],
    )
    assert request == common_pb2.NamedEntityIdentifierListRequest(
        project="p", domain="d", limit=5, sort_by=common_pb2.Sort(key="name", direction=common_pb2.Sort.ASCENDING)
    )
    by_number = build_request(
        common_pb2.ResourceListRequest, "", b"", {"id.project": "p"}, [("sort_by.direction", "1")]
    )
    assert by_number.sort_by.direction == common_pb2.Sort.ASCENDING


def test_enum_path_parameter_and_repeated_query_fields() -> None:
    request = build_request(
        project_pb2.ProjectListRequest, "", b"", {}, [("limit", "2"), ("filters", "eq(state,0)"), ("token", "4")]
    )
    assert (request.limit, request.filters, request.token) == (2, "eq(state,0)", "4")
    entity = build_request(
        common_pb2.NamedEntityGetRequest, "", b"", {"resource_type": "LAUNCH_PLAN", "id.project": "p"}, []
    )
    assert entity.resource_type == identifier_pb2.LAUNCH_PLAN and entity.id.project == "p"


def test_path_parameters_win_over_the_body() -> None:
    body = b'{"id": {"project": "from-body", "domain": "d", "name": "n"}, "state": "EXECUTION_ARCHIVED"}'
    request = build_request(execution_pb2.ExecutionUpdateRequest, "*", body, {"id.project": "from-path"}, [])
    assert request.id.project == "from-path" and request.id.domain == "d"
    assert request.state == execution_pb2.EXECUTION_ARCHIVED


def test_query_is_ignored_when_the_body_is_the_whole_message() -> None:
    request = build_request(task_pb2.TaskCreateRequest, "*", b"{}", {}, [("id.project", "q")])
    assert request.id.project == ""


def test_well_known_types_take_their_json_string_forms() -> None:
    from flyteidl.service import dataproxy_pb2

    request = build_request(dataproxy_pb2.CreateDownloadLocationRequest, "", b"", {}, [("expires_in", "30s")])
    assert request.expires_in.seconds == 30


@pytest.mark.parametrize(
    ("query", "named"),
    [([("limit", "x")], "limit"), ([("sort_by.direction", "UP")], "sort_by.direction")],
)
def test_bad_query_values_name_the_parameter(query: list[tuple[str, str]], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named.replace(".", r"\.")):
        build_request(common_pb2.ResourceListRequest, "", b"", {}, query)


def test_bad_body_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="invalid JSON body"):
        build_request(task_pb2.TaskCreateRequest, "*", b"[1, 2", {}, [])


def test_resource_type_implied_by_the_url_is_filled_only_when_unspecified() -> None:
    from flyteidl.admin import node_execution_pb2

    from aloft_admin.gateway.implicit import fill_implicit_fields

    get = common_pb2.ObjectGetRequest(id=identifier_pb2.Identifier(project="p"))
    fill_implicit_fields("GetWorkflow", get)
    assert get.id.resource_type == identifier_pb2.WORKFLOW
    explicit = common_pb2.ObjectGetRequest(id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK))
    fill_implicit_fields("GetLaunchPlan", explicit)
    assert explicit.id.resource_type == identifier_pb2.TASK
    children = node_execution_pb2.NodeExecutionForTaskListRequest(
        task_execution_id=identifier_pb2.TaskExecutionIdentifier(task_id=identifier_pb2.Identifier(name="t"))
    )
    fill_implicit_fields("ListNodeExecutionsForTask", children)
    assert children.task_execution_id.task_id.resource_type == identifier_pb2.TASK
    empty = common_pb2.ObjectGetRequest()
    fill_implicit_fields("GetTask", empty)
    assert not empty.HasField("id")
