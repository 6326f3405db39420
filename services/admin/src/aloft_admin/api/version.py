"""AdminService GetVersion: the control plane's version from the installed package's metadata."""

from __future__ import annotations

import os
from importlib import metadata

from flyteidl.admin import version_pb2

from aloft_admin.api.base import RpcMixin

PACKAGE = "aloft-admin"


def control_plane_version() -> version_pb2.Version:
    """Version from the package; Build and BuildTime from the build environment when the image sets them."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "0.0.0+unknown"
    return version_pb2.Version(
        Version=version,
        Build=os.environ.get("ALOFT_BUILD", "unknown"),
        BuildTime=os.environ.get("ALOFT_BUILD_TIME", "unknown"),
    )


class VersionRpcs(RpcMixin):
    async def GetVersion(
        self, request: version_pb2.GetVersionRequest, context: object
    ) -> version_pb2.GetVersionResponse:
        return version_pb2.GetVersionResponse(control_plane_version=control_plane_version())
