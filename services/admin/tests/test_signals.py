"""SignalService over gRPC on SQLite and PostgreSQL: idempotent create, typed set, list with filters/pages."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from sqlalchemy import create_engine, inspect

EXECUTION = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="exec1")
BOOL = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
INT_LIST = types_pb2.LiteralType(collection_type=types_pb2.LiteralType(simple=types_pb2.INTEGER))


def _id(
    name: str, execution: identifier_pb2.WorkflowExecutionIdentifier = EXECUTION
) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(execution_id=execution, signal_id=name)


def _bool(value: bool) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value)))


def _ints(*values: int) -> literals_pb2.Literal:
    items = [
        literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=v))) for v in values
    ]
    return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))


async def _create(admin_server: Any, name: str, literal_type: types_pb2.LiteralType = BOOL) -> signal_pb2.Signal:
    reply: signal_pb2.Signal = await admin_server.signals.GetOrCreateSignal(
        signal_pb2.SignalGetOrCreateRequest(id=_id(name), type=literal_type)
    )
    return reply


async def _rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


def test_signals_table_is_migrated(admin_server: Any) -> None:
    engine = create_engine(admin_server.deps.db.sync_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("signals")}
    finally:
        engine.dispose()
    assert {
        "execution_project",
        "execution_domain",
        "execution_name",
        "execution_org",
        "signal_id",
        "type",
        "value",
    } <= columns


async def test_get_or_create_is_idempotent_and_returns_the_value_once_set(admin_server: Any) -> None:
    created = await _create(admin_server, "approve")
    assert created.id == _id("approve") and created.type == BOOL and not created.HasField("value")
    concurrent = await asyncio.gather(*[_create(admin_server, "approve") for _ in range(4)])
    assert all(s == created for s in concurrent)
    await admin_server.signals.SetSignal(signal_pb2.SignalSetRequest(id=_id("approve"), value=_bool(True)))
    again = await _create(admin_server, "approve")
    assert again.value == _bool(True)


async def test_get_or_create_with_another_type_is_already_exists(admin_server: Any) -> None:
    await _create(admin_server, "approve")
    error = await _rpc_error(_create(admin_server, "approve", INT_LIST))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "flytesnacks/development/exec1/approve" in (error.details() or "")


async def test_set_signal_checks_the_type(admin_server: Any) -> None:
    await _create(admin_server, "numbers", INT_LIST)
    wrong = await _rpc_error(
        admin_server.signals.SetSignal(signal_pb2.SignalSetRequest(id=_id("numbers"), value=_bool(False)))
    )
    assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT and "not castable" in (wrong.details() or "")
    await admin_server.signals.SetSignal(signal_pb2.SignalSetRequest(id=_id("numbers"), value=_ints(1, 2)))
    # Setting again overwrites, as flyteadmin does.
    await admin_server.signals.SetSignal(signal_pb2.SignalSetRequest(id=_id("numbers"), value=_ints(3)))
    assert (await _create(admin_server, "numbers", INT_LIST)).value == _ints(3)


SET_BAD_INPUT = [
    (signal_pb2.SignalSetRequest(id=_id("nobody"), value=_bool(True)), "exists"),
    (signal_pb2.SignalSetRequest(id=_id("x")), "value"),
    (signal_pb2.SignalSetRequest(value=_bool(True)), "id"),
    (
        signal_pb2.SignalSetRequest(id=identifier_pb2.SignalIdentifier(execution_id=EXECUTION), value=_bool(True)),
        "signal_id",
    ),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # validation: one backend is enough
async def test_set_signal_bad_input(admin_server: Any) -> None:
    for request_message, named in SET_BAD_INPUT:
        error = await _rpc_error(admin_server.signals.SetSignal(request_message))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and named in (error.details() or ""), named


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_get_or_create_bad_input(admin_server: Any) -> None:
    no_type = await _rpc_error(admin_server.signals.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=_id("a"))))
    assert no_type.code() == grpc.StatusCode.INVALID_ARGUMENT and "type" in (no_type.details() or "")
    partial = identifier_pb2.WorkflowExecutionIdentifier(project="p", name="e")
    no_domain = await _rpc_error(
        admin_server.signals.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=_id("a", partial), type=BOOL))
    )
    assert no_domain.code() == grpc.StatusCode.INVALID_ARGUMENT and "domain" in (no_domain.details() or "")


async def test_list_signals_pages_filters_and_scopes_to_the_execution(admin_server: Any) -> None:
    for name in ("s1", "s2", "s3"):
        await _create(admin_server, name)
    other = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="exec2")
    await admin_server.signals.GetOrCreateSignal(signal_pb2.SignalGetOrCreateRequest(id=_id("s1", other), type=BOOL))

    def listing(**fields: Any) -> Any:
        return admin_server.signals.ListSignals(signal_pb2.SignalListRequest(workflow_execution_id=EXECUTION, **fields))

    first = await listing(limit=2)
    assert [s.id.signal_id for s in first.signals] == ["s1", "s2"] and first.token == "2"
    second = await listing(limit=2, token=first.token)
    assert [s.id.signal_id for s in second.signals] == ["s3"] and second.token == ""
    newest = await listing(limit=1, sort_by=common_pb2.Sort(key="signal_id", direction=common_pb2.Sort.DESCENDING))
    assert [s.id.signal_id for s in newest.signals] == ["s3"]
    filtered = await listing(limit=10, filters="value_in(signal_id,s1;s3)")
    assert [s.id.signal_id for s in filtered.signals] == ["s1", "s3"]
    bad_requests: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 5, "filters": "eq(color,red)"}, "color"),
    ]
    for bad, named in bad_requests:
        error = await _rpc_error(listing(**bad))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and named in (error.details() or "")
