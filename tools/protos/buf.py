"""buf on our own APIs (protos/aloft/<area>/v<N>): lint, and breaking-change detection against the released API.

- ``lint``: buf's STANDARD rules plus documented services and rpcs (protos/buf.yaml), and every package under aloft.
- ``breaking``: protos/ compared with protos/released.json, the API as last released (buf's FILE rules: generated code,
  wire and JSON stay compatible; new files and packages are fine).
- ``release``: record protos/ as the released API (run when cutting a release, commit released.json).

flyteidl's PyPI package ships generated code, not .proto files, so buf reads images (FileDescriptorSets) that protoc
compiles against the pinned flyteidl's own descriptors (build.py), never a module with registry dependencies.
released.json holds only our files; the flyteidl files they import are added back from the pinned package.
The buf binary comes from npm's @bufbuild/buf, installed into node_modules/ by ``make setup``.

Usage: python tools/protos/buf.py lint|breaking|release [--root DIR] [--against FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2, json_format
from grpc_tools import protoc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import PROTO_ROOT, ROOT, dependency_descriptor_set

BUF = ROOT / "node_modules" / ".bin" / "buf"
CONFIG = PROTO_ROOT / "buf.yaml"
RELEASED = PROTO_ROOT / "released.json"
OWN_PREFIX = "aloft"


def own_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))


def compile_image(root: Path) -> descriptor_pb2.FileDescriptorSet:
    """protos under ``root`` with their imports and comments, as protoc sees them."""
    with tempfile.TemporaryDirectory() as tmp:
        deps, out = Path(tmp) / "deps.pb", Path(tmp) / "out.pb"
        deps.write_bytes(dependency_descriptor_set())
        args = ["protoc", f"--proto_path={root}", f"--descriptor_set_in={deps}", f"--descriptor_set_out={out}"]
        if protoc.main([*args, "--include_imports", "--include_source_info", *own_files(root)]) != 0:
            raise SystemExit(f"protoc could not parse {root}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def released_image(snapshot: Path) -> descriptor_pb2.FileDescriptorSet:
    """The released files from ``snapshot`` after the pinned flyteidl files they import."""
    released = json_format.Parse(snapshot.read_text(), descriptor_pb2.FileDescriptorSet())
    image = descriptor_pb2.FileDescriptorSet.FromString(dependency_descriptor_set())
    image.file.extend(released.file)
    return image


def _buf(args: list[str], images: dict[str, descriptor_pb2.FileDescriptorSet]) -> int:
    if not BUF.exists():
        print(f"{BUF.relative_to(ROOT)} is missing: run 'make setup' (npm installs @bufbuild/buf)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, image in images.items():
            paths[name] = Path(tmp) / f"{name}.binpb"
            paths[name].write_bytes(image.SerializeToString())
        argv = [a.format(**{k: f"{v}#format=binpb" for k, v in paths.items()}) for a in args]
        return subprocess.run([str(BUF), *argv, "--config", str(CONFIG)], check=False).returncode


def lint(root: Path) -> int:
    files = own_files(root)
    strays = [f for f in files if not f.startswith(f"{OWN_PREFIX}/")]
    for stray in strays:
        print(f"{stray}: our APIs live under {OWN_PREFIX}/<area>/v<N>/", file=sys.stderr)
    if not files:
        return 0
    status = _buf(["lint", "{current}", *(a for f in files for a in ("--path", f))], {"current": compile_image(root)})
    if status == 0 and not strays:
        print("protos: buf lint ok")
    return 1 if strays else status


def breaking(root: Path, against: Path) -> int:
    images = {"current": compile_image(root), "released": released_image(against)}
    released = [f.name for f in json_format.Parse(against.read_text(), descriptor_pb2.FileDescriptorSet()).file]
    if not released:
        print("protos: nothing released yet")
        return 0
    paths = [a for f in released for a in ("--path", f)]
    status = _buf(["breaking", "{current}", "--against", "{released}", *paths], images)
    if status == 0:
        print(f"protos: no breaking change against {os.path.relpath(against)}")
    return status


def release(root: Path, snapshot: Path) -> int:
    names = set(own_files(root))
    released = descriptor_pb2.FileDescriptorSet()
    for file in compile_image(root).file:
        if file.name in names:
            file.ClearField("source_code_info")
            released.file.append(file)
    snapshot.write_text(json_format.MessageToJson(released, indent=1) + "\n")
    print(f"recorded {len(released.file)} file(s) as released in {snapshot}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["lint", "breaking", "release"])
    parser.add_argument("--root", type=Path, default=PROTO_ROOT, help="proto root (default: protos/)")
    parser.add_argument("--against", type=Path, default=RELEASED, help="released API (default: protos/released.json)")
    args = parser.parse_args()
    if args.command == "lint":
        return lint(args.root)
    if args.command == "breaking":
        return breaking(args.root, args.against)
    return release(args.root, args.against)


if __name__ == "__main__":
    sys.exit(main())
