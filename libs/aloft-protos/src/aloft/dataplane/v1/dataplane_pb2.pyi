import datetime

from flyteidl.core import execution_pb2 as _execution_pb2
from flyteidl.core import identifier_pb2 as _identifier_pb2
from flyteidl.core import security_pb2 as _security_pb2
from flyteidl.core import compiler_pb2 as _compiler_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceQuantities(_message.Message):
    __slots__ = ("cpu", "memory", "gpu", "ephemeral_storage")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_STORAGE_FIELD_NUMBER: _ClassVar[int]
    cpu: str
    memory: str
    gpu: str
    ephemeral_storage: str
    def __init__(self, cpu: _Optional[str] = ..., memory: _Optional[str] = ..., gpu: _Optional[str] = ..., ephemeral_storage: _Optional[str] = ...) -> None: ...

class ExecutionConfig(_message.Message):
    __slots__ = ("max_parallelism", "interruptible", "overwrite_cache", "envs", "labels", "annotations", "raw_output_prefix", "security_context", "task_resource_defaults", "task_resource_limits", "execution_cluster_label")
    class EnvsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MAX_PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIBLE_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_CACHE_FIELD_NUMBER: _ClassVar[int]
    ENVS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    RAW_OUTPUT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    SECURITY_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    TASK_RESOURCE_DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    TASK_RESOURCE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CLUSTER_LABEL_FIELD_NUMBER: _ClassVar[int]
    max_parallelism: int
    interruptible: _wrappers_pb2.BoolValue
    overwrite_cache: bool
    envs: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    annotations: _containers.ScalarMap[str, str]
    raw_output_prefix: str
    security_context: _security_pb2.SecurityContext
    task_resource_defaults: ResourceQuantities
    task_resource_limits: ResourceQuantities
    execution_cluster_label: str
    def __init__(self, max_parallelism: _Optional[int] = ..., interruptible: _Optional[_Union[_wrappers_pb2.BoolValue, _Mapping]] = ..., overwrite_cache: _Optional[bool] = ..., envs: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., annotations: _Optional[_Mapping[str, str]] = ..., raw_output_prefix: _Optional[str] = ..., security_context: _Optional[_Union[_security_pb2.SecurityContext, _Mapping]] = ..., task_resource_defaults: _Optional[_Union[ResourceQuantities, _Mapping]] = ..., task_resource_limits: _Optional[_Union[ResourceQuantities, _Mapping]] = ..., execution_cluster_label: _Optional[str] = ...) -> None: ...

class CreateExecutionRequest(_message.Message):
    __slots__ = ("id", "compiled_closure", "closure_uri", "inputs_uri", "config", "launch_plan_id", "workflow_id", "cluster", "parent_node_execution", "recover_from", "metadata_prefix", "created_at", "principal", "hold")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMPILED_CLOSURE_FIELD_NUMBER: _ClassVar[int]
    CLOSURE_URI_FIELD_NUMBER: _ClassVar[int]
    INPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    PARENT_NODE_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    RECOVER_FROM_FIELD_NUMBER: _ClassVar[int]
    METADATA_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    id: _identifier_pb2.WorkflowExecutionIdentifier
    compiled_closure: _compiler_pb2.CompiledWorkflowClosure
    closure_uri: str
    inputs_uri: str
    config: ExecutionConfig
    launch_plan_id: _identifier_pb2.Identifier
    workflow_id: _identifier_pb2.Identifier
    cluster: str
    parent_node_execution: _identifier_pb2.NodeExecutionIdentifier
    recover_from: _identifier_pb2.WorkflowExecutionIdentifier
    metadata_prefix: str
    created_at: _timestamp_pb2.Timestamp
    principal: str
    hold: bool
    def __init__(self, id: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ..., compiled_closure: _Optional[_Union[_compiler_pb2.CompiledWorkflowClosure, _Mapping]] = ..., closure_uri: _Optional[str] = ..., inputs_uri: _Optional[str] = ..., config: _Optional[_Union[ExecutionConfig, _Mapping]] = ..., launch_plan_id: _Optional[_Union[_identifier_pb2.Identifier, _Mapping]] = ..., workflow_id: _Optional[_Union[_identifier_pb2.Identifier, _Mapping]] = ..., cluster: _Optional[str] = ..., parent_node_execution: _Optional[_Union[_identifier_pb2.NodeExecutionIdentifier, _Mapping]] = ..., recover_from: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ..., metadata_prefix: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., hold: _Optional[bool] = ...) -> None: ...

class CreateExecutionResponse(_message.Message):
    __slots__ = ("shard_key", "already_existed")
    SHARD_KEY_FIELD_NUMBER: _ClassVar[int]
    ALREADY_EXISTED_FIELD_NUMBER: _ClassVar[int]
    shard_key: str
    already_existed: bool
    def __init__(self, shard_key: _Optional[str] = ..., already_existed: _Optional[bool] = ...) -> None: ...

class AbortExecutionRequest(_message.Message):
    __slots__ = ("id", "cause", "principal")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    id: _identifier_pb2.WorkflowExecutionIdentifier
    cause: str
    principal: str
    def __init__(self, id: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ..., cause: _Optional[str] = ..., principal: _Optional[str] = ...) -> None: ...

class AbortExecutionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartExecutionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _identifier_pb2.WorkflowExecutionIdentifier
    def __init__(self, id: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ...) -> None: ...

class StartExecutionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchItemStatus(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class CreateExecutionsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CreateExecutionRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CreateExecutionRequest, _Mapping]]] = ...) -> None: ...

class CreateExecutionResult(_message.Message):
    __slots__ = ("status", "response")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    status: BatchItemStatus
    response: CreateExecutionResponse
    def __init__(self, status: _Optional[_Union[BatchItemStatus, _Mapping]] = ..., response: _Optional[_Union[CreateExecutionResponse, _Mapping]] = ...) -> None: ...

class CreateExecutionsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CreateExecutionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CreateExecutionResult, _Mapping]]] = ...) -> None: ...

class StartExecutionsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[StartExecutionRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[StartExecutionRequest, _Mapping]]] = ...) -> None: ...

class StartExecutionResult(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: BatchItemStatus
    def __init__(self, status: _Optional[_Union[BatchItemStatus, _Mapping]] = ...) -> None: ...

class StartExecutionsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StartExecutionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[StartExecutionResult, _Mapping]]] = ...) -> None: ...

class GetExecutionStatusRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _identifier_pb2.WorkflowExecutionIdentifier
    def __init__(self, id: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("node_id", "phase", "attempts", "system_failures", "message")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FAILURES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    phase: _execution_pb2.NodeExecution.Phase
    attempts: int
    system_failures: int
    message: str
    def __init__(self, node_id: _Optional[str] = ..., phase: _Optional[_Union[_execution_pb2.NodeExecution.Phase, str]] = ..., attempts: _Optional[int] = ..., system_failures: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ExecutionStatus(_message.Message):
    __slots__ = ("id", "phase", "resource_version", "shard_key", "cluster", "nodes", "error", "updated_at", "abort_cause", "held")
    ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARD_KEY_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ABORT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    id: _identifier_pb2.WorkflowExecutionIdentifier
    phase: _execution_pb2.WorkflowExecution.Phase
    resource_version: int
    shard_key: str
    cluster: str
    nodes: _containers.RepeatedCompositeFieldContainer[NodeStatus]
    error: _execution_pb2.ExecutionError
    updated_at: _timestamp_pb2.Timestamp
    abort_cause: str
    held: bool
    def __init__(self, id: _Optional[_Union[_identifier_pb2.WorkflowExecutionIdentifier, _Mapping]] = ..., phase: _Optional[_Union[_execution_pb2.WorkflowExecution.Phase, str]] = ..., resource_version: _Optional[int] = ..., shard_key: _Optional[str] = ..., cluster: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[NodeStatus, _Mapping]]] = ..., error: _Optional[_Union[_execution_pb2.ExecutionError, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., abort_cause: _Optional[str] = ..., held: _Optional[bool] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("limit", "token", "only_active")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ONLY_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    token: str
    only_active: bool
    def __init__(self, limit: _Optional[int] = ..., token: _Optional[str] = ..., only_active: _Optional[bool] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[ExecutionStatus]
    token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[ExecutionStatus, _Mapping]]] = ..., token: _Optional[str] = ...) -> None: ...
