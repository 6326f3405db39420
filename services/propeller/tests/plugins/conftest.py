"""Fixtures for the task-plugin tests: a real local blob store, attempt contexts, and a handle() driver."""

from __future__ import annotations

import asyncio
import tarfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2

from aloft_propeller.config import LocalProcessConfig, PluginsConfig, PropellerConfig
from aloft_propeller.plugins.base import PhaseInfo, Plugin, Resources, TaskExecutionContext
from aloft_propeller.plugins.local_process.environment import find_flytekit_bin_dir
from aloft_service.runtime import StackConfig
from aloft_storage import BlobStore, StorageConfig, create_blob_store

PROJECT_DIR = Path(__file__).parent / "flytekit_project"
DISTRIBUTION_PLACEHOLDER = "file:///ALOFT_DISTRIBUTION.tar.gz"


@pytest.fixture
def storage_config(tmp_path: Path) -> StorageConfig:
    return StorageConfig.model_validate({"type": "local", "local": {"root": str(tmp_path / "blobs")}})


@pytest.fixture
def blobs(storage_config: StorageConfig) -> BlobStore:
    return create_blob_store(storage_config)


@pytest.fixture
def make_config(tmp_path: Path, storage_config: StorageConfig) -> Callable[..., PropellerConfig]:
    def build(**local_process: Any) -> PropellerConfig:
        settings = {"kill-grace-period": "1s", **local_process}
        return PropellerConfig(
            stack=StackConfig(dataDir=str(tmp_path / "stack")),
            storage=storage_config,
            plugins=PluginsConfig(local_process=LocalProcessConfig.model_validate(settings)),
        )

    return build


@pytest.fixture
def propeller_config(make_config: Callable[..., PropellerConfig]) -> PropellerConfig:
    return make_config()


def literal_int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def literal_str(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


@pytest.fixture
def literals() -> Any:
    """Literal builders (tests cannot import conftest)."""

    class Builders:
        integer = staticmethod(literal_int)
        string = staticmethod(literal_str)

    return Builders


@pytest.fixture
def make_ctx(blobs: BlobStore) -> Callable[..., Awaitable[TaskExecutionContext]]:
    """Build an attempt context with Flyte's metadata layout and write its inputs.pb (unless ``write_inputs`` is
    false: the node executor writes none for a node without inputs)."""

    async def build(
        template: tasks_pb2.TaskTemplate,
        inputs: dict[str, literals_pb2.Literal] | None = None,
        *,
        execution: str = "exec1",
        node: str = "n0",
        attempt: int = 0,
        timeout: timedelta | None = None,
        limits: Resources = Resources(),
        envs: dict[str, str] | None = None,
        write_inputs: bool = True,
    ) -> TaskExecutionContext:
        execution_id = identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name=execution
        )
        task_execution_id = identifier_pb2.TaskExecutionIdentifier(
            task_id=template.id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=node, execution_id=execution_id),
            retry_attempt=attempt,
        )
        node_dir = blobs.uri("metadata", "propeller", "flytesnacks", "development", execution, node)
        inputs_uri = f"{node_dir}/inputs.pb"
        if write_inputs:
            await blobs.write_proto(inputs_uri, literals_pb2.LiteralMap(literals=inputs or {}))
        attempt_dir = f"{node_dir}/{attempt}"
        return TaskExecutionContext(
            task_execution_id=task_execution_id,
            unique_id=f"{execution}-{node}-{attempt}",
            template=template,
            inputs_uri=inputs_uri,
            output_prefix=attempt_dir,
            raw_output_prefix=blobs.uri("raw", execution),
            checkpoint_prefix=f"{attempt_dir}/_flytecheckpoints",
            prev_checkpoint_prefix="",
            blobs=blobs,
            attempt=attempt,
            envs=envs or {},
            resource_limits=limits,
            timeout=timeout,
            workflow_name="demo.workflow",
            launch_plan_name="demo.workflow",
        )

    return build


@pytest.fixture
def drive() -> Callable[..., Awaitable[PhaseInfo]]:
    """Call handle() the way the engine does (repeatedly, with a pause) until a terminal phase."""

    async def run(plugin: Plugin, ctx: TaskExecutionContext, limit_seconds: float = 120.0) -> PhaseInfo:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_seconds
        while True:
            info = (await plugin.handle(ctx)).info
            if info.phase.is_terminal:
                return info
            if loop.time() > deadline:
                raise AssertionError(f"attempt {ctx.unique_id} still {info.phase.name} after {limit_seconds}s")
            await asyncio.sleep(0.2)

    return run


@pytest.fixture
def raw_template() -> Callable[..., tasks_pb2.TaskTemplate]:
    """A raw-container (flytekit ContainerTask) template running ``sh -c script``."""

    def build(
        script: str,
        inputs: dict[str, types_pb2.LiteralType] | None = None,
        outputs: dict[str, types_pb2.LiteralType] | None = None,
        name: str = "raw",
    ) -> tasks_pb2.TaskTemplate:
        def variables(types: dict[str, types_pb2.LiteralType] | None) -> interface_pb2.VariableMap:
            return interface_pb2.VariableMap(
                variables={k: interface_pb2.Variable(type=t) for k, t in (types or {}).items()}
            )

        return tasks_pb2.TaskTemplate(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name=name, version="v1"
            ),
            type="raw-container",
            interface=interface_pb2.TypedInterface(inputs=variables(inputs), outputs=variables(outputs)),
            container=tasks_pb2.Container(
                image="alpine:3.19",
                command=["sh", "-c", script],
                data_config=tasks_pb2.DataLoadingConfig(
                    enabled=True, input_path="/var/inputs", output_path="/var/outputs"
                ),
            ),
        )

    return build


@pytest.fixture(scope="session")
def flytekit_bin() -> Path:
    """The flytekit environment python tasks run in ($ALOFT_FLYTEKIT_VENV or .venv-flytekit, as in the stack)."""
    bin_dir = find_flytekit_bin_dir(Path(__file__).resolve().parent)
    if bin_dir is None or not (bin_dir / "pyflyte-execute").exists():
        pytest.skip("no flytekit environment: run `make setup` (.venv-flytekit) or set ALOFT_FLYTEKIT_VENV")
    return bin_dir


@pytest.fixture
def flytekit_task(flytekit_bin: Path, tmp_path: Path) -> Callable[[str], tasks_pb2.TaskTemplate]:
    """A committed, fast-registered flytekit template whose code distribution is a tarball of flytekit_project/."""
    distribution = tmp_path / "distribution.tar.gz"
    with tarfile.open(distribution, "w:gz") as tar:
        tar.add(PROJECT_DIR / "demo_tasks.py", arcname="demo_tasks.py")

    def load(name: str) -> tasks_pb2.TaskTemplate:
        template = tasks_pb2.TaskTemplate()
        template.ParseFromString((PROJECT_DIR / "templates" / f"{name}.pb").read_bytes())
        args = [distribution.as_uri() if a == DISTRIBUTION_PLACEHOLDER else a for a in template.container.args]
        del template.container.args[:]
        template.container.args.extend(args)
        return template

    return load


@pytest.fixture
def pid_gone() -> Callable[[int], bool]:
    def check(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state in ("Z", "X")

    return check
