#!/usr/bin/env bash
# `make images`: the local Debian base image (mmdebstrap, cached while images/base is unchanged), the wheelhouse,
# then one image per service from images/Containerfile; buildah --isolation chroot (no daemon, no registry).
#   SERVICES="admin console" TAG=dev images/build.sh
#   SERVICES=admin IMAGE_REF=registry:5000/aloft-admin:tilt-1 LIVE_UPDATE=true images/build.sh   (Tilt)
#   images/build.sh --wheels-only        (only the wheelhouse, e.g. before `docker build -f images/Containerfile .`)
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-"admin propeller datacatalog webhook console scheduler"}
TAG=${TAG:-dev}
SUITE=${SUITE:-bookworm}
BASE_IMAGE=localhost/aloft-base:${SUITE}
CACHE=build/images
# The project's libraries a service may depend on (aloft-testing is for tests only).
LIBS="aloft-config aloft-service aloft-auth aloft-db aloft-storage aloft-protos aloft-compiler"
# The port of each service's /healthcheck (HTTP_PORT of the Containerfile), as in config/aloft.yaml.
declare -A HTTP_PORT=([admin]=8088 [propeller]=10254 [datacatalog]=8091 [webhook]=9443 [console]=8080 [scheduler]=10255)

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
# Built by the base image's own Python (in a throwaway container with the sources mounted), so environment markers
# (redis needs async-timeout on Debian's 3.11.2, not on 3.11.3+) and wheel tags are the image's. The host's CA
# bundle is mounted so pip trusts what the host trusts. Reused while present; the image builds install from here
# offline. Packages are built from a copy of their sources ($CACHE/src): setuptools writes build/ directories
# in-tree, which must not land in the work tree (mypy and pytest would find two copies of each package).
build_wheels() {
  local container status=0
  echo "filling the wheelhouse $CACHE/wheels (with $BASE_IMAGE's Python)"
  mkdir -p "$CACHE/wheels"
  rm -rf "$CACHE/src" && mkdir -p "$CACHE/src"
  tar -c --exclude=build --exclude='*.egg-info' --exclude=__pycache__ --exclude=tests --exclude=node_modules libs services \
    | tar -x -C "$CACHE/src"
  container=$(buildah from --pull-never "$BASE_IMAGE")
  buildah run --isolation chroot --volume "$PWD:/src" --volume /etc/ssl/certs:/etc/ssl/certs:ro \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt --env PIP_DISABLE_PIP_VERSION_CHECK=1 --workingdir /src \
    "$container" -- sh -euc '
      python3 -m venv /tmp/pip
      /tmp/pip/bin/pip wheel --quiet --wheel-dir "$0" --find-links "$0" -c requirements/constraints.txt "$@"' \
    "$CACHE/wheels" $(printf "./$CACHE/src/libs/%s " $LIBS) $(printf "./$CACHE/src/services/%s " $SERVICES) \
    || status=$?
  buildah rm "$container" >/dev/null
  return $status
}

# The console's front end is built by `make setup` (npm run build in services/console/web) into the package's
# git-ignored static/; its wheel (package data static/*.html, static/assets/*) carries whatever is there when the
# sources are copied, so an image built before the front end would serve only "not built" pages: refuse that.
check_console_built() {
  local static=services/console/src/aloft_console/static
  case " $SERVICES " in *" console "*) ;; *) return 0 ;; esac
  if [ ! -f "$static/index.html" ] || ! compgen -G "$static/assets/*.js" >/dev/null; then
    echo "the console's front end is not built in $static: run \`make setup\` (or make images, which builds it)" >&2
    exit 1
  fi
}

build_service() {
  local service=$1 scheme=http
  [ "$service" = webhook ] && scheme=https  # the webhook serves /healthcheck over TLS only
  echo "building localhost/aloft-$service:$TAG"
  buildah bud --quiet --isolation chroot --layers --format docker \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg SERVICE="$service" \
    --build-arg HTTP_PORT="${HTTP_PORT[$service]}" --build-arg HEALTH_SCHEME="$scheme" \
    --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --build-arg LIVE_UPDATE="${LIVE_UPDATE:-false}" \
    -f images/Containerfile -t "${IMAGE_REF:-localhost/aloft-$service:$TAG}" .
}

mkdir -p "$CACHE"
check_console_built
build_base
build_wheels
[ "${1:-}" = --wheels-only ] && exit 0
for service in $SERVICES; do
  build_service "$service"
done
buildah images --filter reference='localhost/aloft-*'
