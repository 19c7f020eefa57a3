"""Generates the Python modules and gRPC stubs of proto/nas/v1 into
nas_client/_gen.

Run once after a checkout or a proto change (scripts/run_python_client_tests.sh
and the examples do it for you):

    python3 clients/python/generate_stubs.py

Uses the protoc and grpc_python_plugin of Debian's protobuf-compiler-grpc,
the same compiler that builds the C++ stubs, so that both sides read the
protos alike (Debian's python3-grpc-tools bundles a protoc too old for the
proto3 `optional` fields). Nothing is downloaded.
"""
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
OUT = HERE / "nas_client" / "_gen"


def main() -> int:
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        print("generate_stubs: need protoc and grpc_python_plugin "
              "(apt-get install protobuf-compiler-grpc)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT))
                    for p in (PROTO_ROOT / "nas" / "v1").glob("*.proto"))
    command = [protoc, f"-I{PROTO_ROOT}", f"--python_out={OUT}",
               f"--grpc_python_out={OUT}",
               f"--plugin=protoc-gen-grpc_python={plugin}", *protos]
    if subprocess.run(command).returncode != 0:
        print("generate_stubs: protoc failed", file=sys.stderr)
        return 1
    # The generated modules import each other as "nas.v1.x_pb2"; _gen is
    # put on sys.path by nas_client, and these make the packages.
    for package in (OUT, OUT / "nas", OUT / "nas" / "v1"):
        (package / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
