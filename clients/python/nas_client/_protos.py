"""The generated protobuf modules (see generate_stubs.py)."""
import pathlib
import sys

_GEN = pathlib.Path(__file__).resolve().parent / "_gen"
if not (_GEN / "nas" / "v1" / "search_service_pb2_grpc.py").exists():
    raise ImportError(
        "nas_client: the gRPC stubs are not generated; run "
        "python3 clients/python/generate_stubs.py")
# The generated modules import each other as the package "nas.v1".
if str(_GEN) not in sys.path:
    sys.path.insert(0, str(_GEN))

from nas.v1 import search_pb2  # noqa: E402
from nas.v1 import search_service_pb2  # noqa: E402
from nas.v1 import search_service_pb2_grpc  # noqa: E402

__all__ = ["search_pb2", "search_service_pb2", "search_service_pb2_grpc"]
