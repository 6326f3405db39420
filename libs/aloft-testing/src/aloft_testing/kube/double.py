"""`KubeDouble`: the Kubernetes API double as one object — an HTTP(S) server on a free local port, in its own thread
with its own event loop, plus a kubeconfig pointing at it and thread-safe helpers for tests."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
import yaml

from ..servers import free_port
from .admission import MutatingAdmission
from .apiserver import ApiServer
from .certs import self_signed
from .http import KubeHttpApp
from .kubelet import FaultRule, Kubelet
from .resources import ResourceType, ResourceTypes
from .store import Obj, Store

T = TypeVar("T")
START_TIMEOUT = 30.0


class KubeDouble:
    """Start with `with KubeDouble(tmp_path) as kube:`; `kube.kubeconfig` is a kubeconfig file for any client."""

    def __init__(
        self,
        workdir: Path,
        *,
        base_env: dict[str, str] | None = None,
        strict_fields: bool = True,
        tls: bool = False,
        port: int | None = None,
        private_paths: tuple[str, ...] = ("/root",),
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.private_paths = private_paths
        self.strict_fields = strict_fields
        self.tls = tls
        self.port = port or free_port()
        self.kubeconfig = self.workdir / "kubeconfig"
        self._services: dict[tuple[str, str, int], tuple[str, int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.api: ApiServer
        self.kubelet: Kubelet
        self.http: KubeHttpApp

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> KubeDouble:
        self._thread = threading.Thread(target=self._serve, name="kube-double", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._failure is not None:
            raise RuntimeError(f"the Kubernetes API double did not start: {self._failure}")
        self._write_kubeconfig()
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        self.call(self._shutdown())
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)

    def __enter__(self) -> KubeDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._failure = exc
            self._ready.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        store = Store()
        types = ResourceTypes()
        self.api = ApiServer(store, types, MutatingAdmission(self._resolve_service), strict_fields=self.strict_fields)
        pods, secrets, configmaps = (types.lookup("", "v1", p) for p in ("pods", "secrets", "configmaps"))
        assert pods is not None
        self.kubelet = Kubelet(store, pods, self.workdir / "pods", self.base_env)
        self.kubelet.secrets, self.kubelet.configmaps = secrets, configmaps
        self.kubelet.private_paths = self.private_paths
        self.http = KubeHttpApp(self.api, self.workdir / "pods")
        ssl: dict[str, Any] = {}
        if self.tls:
            cert, key = _self_signed(self.workdir)
            ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        config = uvicorn.Config(
            self.http,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
            **ssl,
        )
        self._server = uvicorn.Server(config)
        serving = asyncio.ensure_future(self._server.serve())
        while not self._server.started and not serving.done():
            await asyncio.sleep(0.02)
        if serving.done():
            serving.result()
        self._ready.set()
        await serving

    async def _shutdown(self) -> None:
        self.http.stopping.set()
        await self.kubelet.shutdown()

    # ---- thread-safe access ------------------------------------------------------------------------------------
    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "start the double first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(START_TIMEOUT)

    def run(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.call(wrapper())

    def rtype(self, plural: str, group: str = "", version: str | None = None) -> ResourceType:
        for rtype in self.api.types:
            if rtype.plural == plural and rtype.group == group and (version is None or rtype.version == version):
                return rtype
        raise KeyError(f"no resource {plural!r} in group {group!r}")

    def get(self, plural: str, namespace: str, name: str, group: str = "") -> Obj | None:
        rtype = self.rtype(plural, group)
        return self.run(lambda: self.api.store.find(rtype, namespace, name))

    def objects(self, plural: str, namespace: str | None = None, group: str = "") -> list[Obj]:
        rtype = self.rtype(plural, group)
        return self.run(lambda: self.api.store.select(rtype, namespace))

    def create(self, plural: str, obj: Obj, group: str = "") -> Obj:
        rtype = self.rtype(plural, group)
        return self.call(self.api.create(rtype, obj.get("metadata", {}).get("namespace"), obj))

    def created(self, plural: str = "pods") -> list[tuple[str, str, str]]:
        """(namespace, name, uid) of every object of that kind ever created, in creation order."""
        return self.run(lambda: [(ns, name, uid) for p, ns, name, uid in self.api.created if p == plural])

    def admission_calls(self) -> list[Obj]:
        return self.run(lambda: list(self.api.admission.calls))

    # ---- faults and routing ------------------------------------------------------------------------------------
    def add_fault(self, fault: str, match: Callable[[Obj], bool], times: int = 1, message: str = "") -> None:
        """The next `times` pods for which `match(pod)` is true get `fault` (kubelet.OOM_KILLED, EVICTED, ...)."""
        self.run(lambda: self.kubelet.add_rule(FaultRule(fault, match, times, message)))

    def inject(self, namespace: str, name: str, fault: str, message: str = "") -> None:
        """Apply `fault` to a pod now (killing its process)."""
        self.run(lambda: self.kubelet.inject(namespace, name, fault, message))

    def route_service(self, namespace: str, name: str, host: str, target_port: int, port: int = 443) -> None:
        """Where a Service's port really answers (webhook clientConfig.service → a local process's port)."""
        self._services[(namespace, name, port)] = (host, target_port)

    def _resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        try:
            return self._services[(namespace, name, port)]
        except KeyError:
            raise OSError(
                f'no endpoints available for service "{namespace}/{name}:{port}" (route it with route_service)'
            ) from None

    def _write_kubeconfig(self) -> None:
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority"] = str(self.workdir / "apiserver.crt")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "aloft-double", "cluster": cluster}],
            "users": [{"name": "aloft-double", "user": {"token": "aloft-double-token"}}],
            "contexts": [
                {
                    "name": "aloft-double",
                    "context": {"cluster": "aloft-double", "user": "aloft-double", "namespace": "default"},
                }
            ],
            "current-context": "aloft-double",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))


def _self_signed(workdir: Path) -> tuple[Path, Path]:
    """A serving certificate for 127.0.0.1/localhost; the kubeconfig trusts it as its CA."""
    cert, key = self_signed("aloft-double-apiserver", ["localhost"], ("127.0.0.1",))
    cert_path, key_path = workdir / "apiserver.crt", workdir / "apiserver.key"
    cert_path.write_bytes(cert)
    key_path.write_bytes(key)
    return cert_path, key_path
