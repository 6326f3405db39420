"""Pure conversions between signal rows and flyteidl admin.Signal."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2

from aloft_admin.repositories.models.signals import SignalModel
from aloft_admin.transformers.executions import execution_columns, owning_execution


def to_model(
    signal_id: identifier_pb2.SignalIdentifier, literal_type: types_pb2.LiteralType, now: datetime
) -> SignalModel:
    return SignalModel(
        **execution_columns(signal_id.execution_id),
        signal_id=signal_id.signal_id,
        type=literal_type.SerializeToString(deterministic=True),
        value=None,
        created_at=now,
        updated_at=now,
    )


def stored_type(row: SignalModel) -> types_pb2.LiteralType:
    return types_pb2.LiteralType.FromString(row.type)


def from_model(row: SignalModel) -> signal_pb2.Signal:
    signal = signal_pb2.Signal(
        id=identifier_pb2.SignalIdentifier(signal_id=row.signal_id, execution_id=owning_execution(row)),
        type=stored_type(row),
    )
    if row.value is not None:
        signal.value.CopyFrom(literals_pb2.Literal.FromString(row.value))
    return signal
