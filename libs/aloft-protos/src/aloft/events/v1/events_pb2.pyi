from flyteidl.admin import event_pb2 as _event_pb2
from flyteidl.event import event_pb2 as _event_pb2_1
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("request_id", "workflow", "node", "task")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    workflow: _event_pb2_1.WorkflowExecutionEvent
    node: _event_pb2_1.NodeExecutionEvent
    task: _event_pb2_1.TaskExecutionEvent
    def __init__(self, request_id: _Optional[str] = ..., workflow: _Optional[_Union[_event_pb2_1.WorkflowExecutionEvent, _Mapping]] = ..., node: _Optional[_Union[_event_pb2_1.NodeExecutionEvent, _Mapping]] = ..., task: _Optional[_Union[_event_pb2_1.TaskExecutionEvent, _Mapping]] = ...) -> None: ...

class RecordEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class EventOutcome(_message.Message):
    __slots__ = ("code", "message", "failure_reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    failure_reason: _event_pb2.EventFailureReason
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., failure_reason: _Optional[_Union[_event_pb2.EventFailureReason, _Mapping]] = ...) -> None: ...

class RecordEventsResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[EventOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[EventOutcome, _Mapping]]] = ...) -> None: ...
