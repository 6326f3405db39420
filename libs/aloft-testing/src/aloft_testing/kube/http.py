"""The Kubernetes REST protocol over HTTP: discovery, CRUD/list/watch URLs, Status errors, streaming watches."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .apiserver import ApiServer
from .errors import ApiError, bad_request
from .kubelet import container_log, pod_log_container
from .patches import parse_body
from .resources import ResourceType
from .selectors import object_matcher
from .store import Obj
from .validation import KUBERNETES_VERSION

_LIST_SUFFIX = "List"


def _json(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def _error(exc: ApiError) -> Response:
    return JSONResponse(exc.status(), status_code=exc.code)


class KubeHttpApp:
    """ASGI app; `stopping` ends open watches so the server can shut down promptly."""

    def __init__(self, api: ApiServer, workdir: Path) -> None:
        self.api = api
        self.workdir = workdir
        self.stopping = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            response = await self._route(request)
        except ApiError as exc:
            response = _error(exc)
        await response(scope, receive, send)

    # ---- routing -----------------------------------------------------------------------------------------------
    async def _route(self, request: Request) -> Response:
        parts = [p for p in request.url.path.split("/") if p]
        if not parts:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/version", "/healthz"]})
        head = parts[0]
        if head in ("healthz", "readyz", "livez"):
            return PlainTextResponse("ok")
        if head == "version":
            major, minor = KUBERNETES_VERSION.split(".")[:2]
            return _json(
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": f"v{major}.{minor}.0-aloft-double",
                    "gitCommit": "0" * 40,
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.24.0",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                }
            )
        if head == "api":
            if len(parts) == 1:
                return _json(
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.netloc}
                        ],
                    }
                )
            return await self._resource_route(request, "", parts[1], parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return _json(self._group_list())
            if len(parts) == 2:
                group = self._group(parts[1])
                if group is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return _json(group)
            return await self._resource_route(request, parts[1], parts[2], parts[3:])
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _group_entry(self, name: str, versions: list[str]) -> Obj:
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": entries, "preferredVersion": entries[0]}

    def _group_list(self) -> Obj:
        groups = [self._group_entry(name, versions) for name, versions in sorted(self.api.types.groups().items())]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, name: str) -> Obj | None:
        versions = self.api.types.groups().get(name)
        return {"kind": "APIGroup", "apiVersion": "v1"} | self._group_entry(name, versions) if versions else None

    def _resource_list(self, group: str, version: str) -> Obj:
        resources = [
            entry
            for rtype in self.api.types
            if (rtype.group, rtype.version) == (group, version)
            for entry in rtype.discovery()
        ]
        if not resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group_version = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}

    async def _resource_route(self, request: Request, group: str, version: str, rest: list[str]) -> Response:
        if not rest:
            return _json(self._resource_list(group, version))
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = self.api.types.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rtype = self.api.types.lookup(group, version, rest[0])
        if rtype is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rtype.namespaced and namespace is None and len(rest) > 1:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rtype.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            return await self._collection(request, rtype, namespace)
        return await self._item(request, rtype, namespace or "", name, sub)

    # ---- collections -------------------------------------------------------------------------------------------
    async def _collection(self, request: Request, rtype: ResourceType, namespace: str | None) -> Response:
        params = request.query_params
        if request.method == "GET":
            matcher = object_matcher(params.get("labelSelector"), params.get("fieldSelector"))
            if (params.get("watch") or "").lower() in ("true", "1"):
                return self._watch(request, rtype, namespace, matcher)
            return _json(self._list_body(rtype, namespace, matcher, params.get("limit"), params.get("continue")))
        if request.method == "POST":
            body = parse_body(await request.body(), request.headers.get("content-type", "application/json"))
            created = await self.api.create(
                rtype, namespace, body, dry_run=params.get("dryRun") == "All", strict=self._strict(request)
            )
            return _json(created, 201)
        if request.method == "DELETE":
            matcher = object_matcher(params.get("labelSelector"), params.get("fieldSelector"))
            deleted = [
                self.api.delete(rtype, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                for obj in self.api.select(rtype, namespace, matcher)
            ]
            return _json(self._list_wrap(rtype, deleted))
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource: {request.method}",
        )

    def _list_wrap(self, rtype: ResourceType, items: list[Obj], cont: str = "", remaining: int = 0) -> Obj:
        metadata: Obj = {"resourceVersion": str(self.api.store.resource_version)}
        if cont:
            metadata["continue"] = cont
            metadata["remainingItemCount"] = remaining
        return {
            "kind": rtype.kind + _LIST_SUFFIX,
            "apiVersion": rtype.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _list_body(
        self, rtype: ResourceType, namespace: str | None, matcher: Any, limit: str | None, cont: str | None
    ) -> Obj:
        items = self.api.select(rtype, namespace, matcher)
        if cont:
            try:
                after = json.loads(base64.urlsafe_b64decode(cont.encode()))
            except ValueError as exc:
                raise bad_request("invalid continue token") from exc
            items = [o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > after]
        if limit and int(limit) > 0 and len(items) > int(limit):
            page, rest = items[: int(limit)], items[int(limit) :]
            last = page[-1]["metadata"]
            token = base64.urlsafe_b64encode(json.dumps([last.get("namespace", ""), last["name"]]).encode()).decode()
            return self._list_wrap(rtype, page, token, len(rest))
        return self._list_wrap(rtype, items)

    def _watch(self, request: Request, rtype: ResourceType, namespace: str | None, matcher: Any) -> Response:
        params = request.query_params
        rv = params.get("resourceVersion")
        since = int(rv) if rv and rv != "0" else None
        timeout = float(params.get("timeoutSeconds") or 1800)
        bookmarks = (params.get("allowWatchBookmarks") or "").lower() in ("true", "1")
        stop = asyncio.Event()

        async def lines() -> AsyncIterator[bytes]:
            timer = asyncio.get_running_loop().call_later(timeout, stop.set)
            watcher = asyncio.ensure_future(self._relay_stop(stop))
            try:
                async for type_, obj in self.api.store.watch(rtype, namespace, matcher, since, stop):
                    yield (json.dumps({"type": type_, "object": self.api._as(rtype, obj)}) + "\n").encode()
                if bookmarks:
                    mark = {
                        "kind": rtype.kind,
                        "apiVersion": rtype.api_version,
                        "metadata": {"resourceVersion": str(self.api.store.resource_version)},
                    }
                    yield (json.dumps({"type": "BOOKMARK", "object": mark}) + "\n").encode()
            except ApiError as exc:
                yield (json.dumps({"type": "ERROR", "object": exc.status()}) + "\n").encode()
            finally:
                timer.cancel()
                watcher.cancel()

        return StreamingResponse(lines(), media_type="application/json")

    async def _relay_stop(self, stop: asyncio.Event) -> None:
        await self.stopping.wait()
        stop.set()

    # ---- single objects ----------------------------------------------------------------------------------------
    async def _item(
        self, request: Request, rtype: ResourceType, namespace: str, name: str, sub: str | None
    ) -> Response:
        method = request.method
        if sub == "log":
            return self._log(request, rtype, namespace, name)
        status = sub == "status"
        if method == "GET":
            return _json(self.api.get(rtype, namespace, name))
        if method == "PUT":
            body = parse_body(await request.body(), request.headers.get("content-type", "application/json"))
            return _json(self.api.update(rtype, namespace, name, body, status=status, strict=self._strict(request)))
        if method == "PATCH":
            content_type = request.headers.get("content-type", "")
            body = parse_body(await request.body(), content_type)
            return _json(
                await self.api.patch(
                    rtype, namespace, name, body, content_type, status=status, strict=self._strict(request)
                )
            )
        if method == "DELETE":
            raw = await request.body()
            options = parse_body(raw, "application/json") if raw else {}
            if "gracePeriodSeconds" in request.query_params:
                options["gracePeriodSeconds"] = int(request.query_params["gracePeriodSeconds"])
            return _json(self.api.delete(rtype, namespace, name, options if isinstance(options, dict) else {}))
        raise ApiError(
            405, "MethodNotAllowed", f"the server does not allow this method on the requested resource: {method}"
        )

    def _log(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        pod = self.api.get(rtype, namespace, name)
        container = pod_log_container(pod, request.query_params.get("container"))
        text = container_log(self.workdir, namespace, name, container)
        if request.query_params.get("tailLines"):
            text = b"\n".join(text.splitlines()[-int(request.query_params["tailLines"]) :])
        return Response(text, media_type="text/plain")

    def _strict(self, request: Request) -> bool | None:
        mode = request.query_params.get("fieldValidation")
        if mode == "Strict":
            return True
        if mode in ("Ignore", "Warn"):
            return False
        return None
