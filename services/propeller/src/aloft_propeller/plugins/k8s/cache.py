"""Propeller's view of its pods (or of another kind it creates, e.g. RayJobs): one watch over every namespace
(Flyte's informer), not one GET per object per round.

A background thread lists the pods carrying the `execution-id` label, then watches from that list's
resourceVersion; every `resync-period` (or on an expired watch, 410) it lists again and replaces the cache, so a
missed event cannot leave a stale pod for long. `handle` reads the cache; a miss falls back to the API (a pod just
created, before its event arrives). `on_change` is told about every pod that changed (used to wake workflows).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MANAGED_SELECTOR = "execution-id"
_RETRY_SECONDS = 1.0


class PodCache:
    def __init__(
        self,
        api: client.ApiClient,
        resync_seconds: float,
        on_change: Callable[[Obj], None] | None = None,
        label_selector: str = MANAGED_SELECTOR,
        lister: Callable[..., Any] | None = None,
        name: str = "k8s-pod-watch",
    ) -> None:
        # Lists (and, with watch=True, watches) the kind across namespaces: pods by default, or e.g.
        # functools.partial(CustomObjectsApi.list_cluster_custom_object, group, version, plural).
        self._list = lister or client.CoreV1Api(api).list_pod_for_all_namespaces
        self._name = name
        self._resync = max(1.0, resync_seconds)
        self._selector = label_selector
        self._on_change = on_change
        self._pods: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.synced = threading.Event()
        self._response: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing a stream another thread reads may raise anything
                pass
        if self._thread is not None:
            self._thread.join(5)

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._pods.get((namespace, name))

    def put(self, pod: Obj) -> None:
        """Record a pod read or written directly (newer resourceVersions win)."""
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            current = self._pods.get(key)
            if current is None or _rv(pod) >= _rv(current):
                self._pods[key] = pod

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._pods.pop((namespace, name), None)

    # ---- the watch loop ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                version = self._relist()
                if self._stop.is_set():
                    return
                self._watch(version)
            except Exception as exc:  # noqa: BLE001 - the watch must outlive API hiccups; it relists
                if self._stop.is_set():
                    return
                log.warning("%s interrupted (%s); listing again", self._name, exc)
                self._stop.wait(_RETRY_SECONDS)

    def _relist(self) -> str:
        response = self._list(label_selector=self._selector, _preload_content=False)
        body = json.loads(response.data)
        pods = {(p["metadata"].get("namespace", ""), p["metadata"]["name"]): p for p in body.get("items") or []}
        with self._lock:
            self._pods = pods
        self.synced.set()
        for pod in pods.values():
            self._changed(pod)
        return str(body.get("metadata", {}).get("resourceVersion", ""))

    def _watch(self, version: str) -> None:
        response = self._list(
            label_selector=self._selector,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=int(self._resync),
            _preload_content=False,
            _request_timeout=self._resync + 30,
        )
        self._response = response
        try:
            if self._stop.is_set():  # stop() ran before the response was published: it could not close it
                return
            buffer = b""
            for chunk in response.stream(amt=None, decode_content=False):
                if self._stop.is_set():
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip() and not self._event(json.loads(line)):
                        return
        finally:
            self._response = None
            response.release_conn()

    def _event(self, event: Obj) -> bool:
        """Apply one watch event; False ends the watch (an ERROR such as 410 Gone: list again)."""
        kind, pod = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            log.info("%s ended by the server: %s", self._name, pod.get("message"))
            return False
        if kind == "BOOKMARK":
            return True
        meta = pod.get("metadata") or {}
        if kind == "DELETED":
            self.forget(meta.get("namespace", ""), meta.get("name", ""))
        else:
            self.put(pod)
        self._changed(pod)
        return True

    def _changed(self, pod: Obj) -> None:
        if self._on_change is not None:
            try:
                self._on_change(pod)
            except Exception:
                log.exception("pod change listener failed")


def _rv(pod: Obj) -> int:
    try:
        return int((pod.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0
