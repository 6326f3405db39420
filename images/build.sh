#!/usr/bin/env bash
# `make images`: the local Debian base image (mmdebstrap, cached while images/base is unchanged), the wheelhouse,
# then one image per service from images/Containerfile; buildah --isolation chroot (no daemon, no registry).
#   SERVICES="admin console" TAG=dev images/build.sh
#   SERVICES=admin IMAGE_REF=registry:5000/aloft-admin:tilt-1 LIVE_UPDATE=true images/build.sh   (Tilt)
#   images/build.sh --wheels-only        (only the wheelhouse, e.g. before `docker build -f images/Containerfile .`)
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-"admin propeller datacatalog webhook console"}
TAG=${TAG:-dev}
SUITE=${SUITE:-bookworm}
BASE_IMAGE=localhost/aloft-base:${SUITE}
CACHE=build/images
PYTHON=${PYTHON:-python3.11}
# The project's libraries a service may depend on (aloft-testing is for tests only).
LIBS="aloft-config aloft-service aloft-db aloft-storage aloft-protos aloft-compiler"
# The port of each service's /healthcheck (HTTP_PORT of the Containerfile), as in config/aloft.yaml.
declare -A HTTP_PORT=([admin]=8088 [propeller]=10254 [datacatalog]=8091 [webhook]=9443 [console]=8080)

build_base() {
  local digest stamp packages
  digest=$(cat images/base/packages.txt images/base/Containerfile | sha256sum | cut -c1-16)
  stamp=$CACHE/base-$SUITE-$digest.done
  if [ -f "$stamp" ] && buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "base image $BASE_IMAGE is up to date"
    return
  fi
  packages=$(grep -v '^#' images/base/packages.txt | xargs | tr ' ' ,)
  rm -rf "$CACHE/base" && mkdir -p "$CACHE/base"
  echo "building $BASE_IMAGE with mmdebstrap ($SUITE: $packages)"
  mmdebstrap --quiet --variant=essential --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$CACHE/base/rootfs.tar"
  cp images/base/Containerfile "$CACHE/base/Containerfile"
  buildah bud --quiet --isolation chroot -f "$CACHE/base/Containerfile" -t "$BASE_IMAGE" "$CACHE/base"
  rm -f "$CACHE/base/rootfs.tar" "$CACHE"/base-"$SUITE"-*.done
  touch "$stamp"
}

# The wheelhouse: the project's libraries and services as wheels, and every dependency, pinned by the constraints.
# Built with the host's Python 3.11 and pip settings, then completed for the image's interpreter: markers such as
# python_full_version < "3.11.3" (redis needs async-timeout on Debian's 3.11.2) are evaluated for the image's
# Python, not the host's. Reused while present; the image builds install from here offline.
base_python_version() {
  local container
  container=$(buildah from --pull-never "$BASE_IMAGE")
  buildah run --isolation chroot "$container" -- python3 -c 'import platform; print(platform.python_version())'
  buildah rm "$container" >/dev/null
}

build_wheels() {
  local wheels=$CACHE/wheels target arch
  echo "filling the wheelhouse $wheels"
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$wheels" --find-links "$wheels" \
    -c requirements/constraints.txt $(printf './libs/%s ' $LIBS) $(printf './services/%s ' $SERVICES) \
    2> >(grep -v "^WARNING: Location" >&2)
  target=$(base_python_version) arch=$(uname -m)
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --dest "$wheels" --find-links "$wheels" \
    --only-binary=:all: --python-version "$target" --implementation cp \
    --abi "cp$(cut -d. -f1,2 <<<"$target" | tr -d .)" --abi abi3 --abi none \
    $(printf -- "--platform manylinux_2_%s_$arch " 17 24 28 31 34 36) --platform "manylinux2014_$arch" \
    -c requirements/constraints.txt $(printf 'aloft-%s ' $SERVICES) 2> >(grep -v "^WARNING: Location" >&2)
}

build_service() {
  local service=$1
  echo "building localhost/aloft-$service:$TAG"
  buildah bud --quiet --isolation chroot --layers --format docker \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg SERVICE="$service" \
    --build-arg HTTP_PORT="${HTTP_PORT[$service]}" \
    --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --build-arg LIVE_UPDATE="${LIVE_UPDATE:-false}" \
    -f images/Containerfile -t "${IMAGE_REF:-localhost/aloft-$service:$TAG}" .
}

mkdir -p "$CACHE"
build_base
build_wheels
[ "${1:-}" = --wheels-only ] && exit 0
for service in $SERVICES; do
  build_service "$service"
done
buildah images --filter reference='localhost/aloft-*'
