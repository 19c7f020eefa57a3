"""The client: one gRPC channel to the controller, the calls of
proto/nas/v1/search_service.proto with Python types in and out."""
from __future__ import annotations

import hashlib
import os
import pathlib
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import grpc
from google.protobuf import json_format
import yaml

from nas_client._protos import search_pb2, search_service_pb2
from nas_client._protos import search_service_pb2_grpc
from nas_client.records import BestTrials, Event, Search, Trial

SpecLike = Union[str, os.PathLike, Dict[str, Any]]


class NasError(Exception):
    """A call the controller refused or could not answer: `code` is the
    grpc.StatusCode (INVALID_ARGUMENT for a bad spec, NOT_FOUND for an
    unknown search, ...), `message` what to fix."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _read(path: Optional[str]) -> Optional[bytes]:
    return pathlib.Path(path).read_bytes() if path else None


def _spec_yaml(spec: SpecLike) -> str:
    """YAML text for a spec given as a dict, a path, or YAML text."""
    if isinstance(spec, dict):
        return yaml.safe_dump(spec, sort_keys=False)
    text = os.fspath(spec)
    if "\n" not in text and pathlib.Path(text).is_file():
        return pathlib.Path(text).read_text()
    if "\n" not in text and ":" not in text:
        raise FileNotFoundError(f"spec file {text} not found")
    return text


class Client:
    """Talks to one controller, like nasctl and with the same environment
    defaults: NAS_CONTROLLER (127.0.0.1:50051), NAS_PLAINTEXT, NAS_TLS_CA,
    NAS_CLIENT_TLS_CERT / NAS_CLIENT_TLS_KEY, NAS_TOKEN_FILE or NAS_TOKEN.
    TLS is the default; plaintext must be asked for. Every call raises
    NasError when the controller refuses it."""

    def __init__(self, address: Optional[str] = None, *,
                 plaintext: Optional[bool] = None,
                 tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None,
                 token: Optional[str] = None,
                 token_file: Optional[str] = None,
                 timeout: float = 30.0):
        address = address or os.environ.get("NAS_CONTROLLER",
                                            "127.0.0.1:50051")
        if plaintext is None:
            plaintext = _env_bool("NAS_PLAINTEXT")
        token_file = token_file or os.environ.get("NAS_TOKEN_FILE")
        if token is None and token_file:
            token = pathlib.Path(token_file).read_text().strip()
            if not token:
                raise ValueError(f"token file {token_file} holds no token")
        if token is None:
            token = os.environ.get("NAS_TOKEN") or None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        if plaintext:
            self._channel = grpc.insecure_channel(address)
        else:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(tls_ca or os.environ.get("NAS_TLS_CA")),
                private_key=_read(tls_key or os.environ.get("NAS_CLIENT_TLS_KEY")),
                certificate_chain=_read(
                    tls_cert or os.environ.get("NAS_CLIENT_TLS_CERT")))
            self._channel = grpc.secure_channel(address, credentials)
        self._stub = search_service_pb2_grpc.SearchServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, timeout: Optional[float] = -1):
        try:
            return method(request, metadata=self._metadata,
                          timeout=self._timeout if timeout == -1 else timeout)
        except grpc.RpcError as e:
            raise NasError(e.code(), e.details()) from None

    def _pages(self, method, request, field: str):
        """Every item of a paged list call, following next_page_token."""
        while True:
            response = self._call(method, request)
            yield from getattr(response, field)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    # Searches.

    def submit(self, spec: SpecLike) -> Search:
        """Creates a search from a spec: a YAML file's path, YAML text, or a
        dict of the same shape (docs/search_spec.md). The controller parses
        and checks it; a bad spec is NasError INVALID_ARGUMENT naming the
        field ("spec_yaml: budget.max_trials (line 12): ...")."""
        request = search_service_pb2.CreateSearchRequest(
            spec_yaml=_spec_yaml(spec))
        return Search.from_proto(self._call(self._stub.CreateSearch, request))

    def validate(self, spec: SpecLike) -> Dict[str, Any]:
        """Checks a spec without creating anything; returns it with every
        default filled in (as submit would store it) and any warnings under
        the key "warnings"."""
        response = self._call(
            self._stub.ValidateSearch,
            search_service_pb2.ValidateSearchRequest(spec_yaml=_spec_yaml(spec)))
        from google.protobuf import json_format
        out = json_format.MessageToDict(response.spec,
                                        preserving_proto_field_name=True)
        out["warnings"] = list(response.warnings)
        return out

    def search(self, search_id: int) -> Search:
        return Search.from_proto(self._call(
            self._stub.GetSearch,
            search_service_pb2.GetSearchRequest(search_id=search_id)))

    def searches(self, *, name: str = "", states: Sequence[str] = (),
                 include_archived: bool = False) -> List[Search]:
        """Every search (all pages), newest first; `states` like
        ("RUNNING",), `name` a substring of the spec's name."""
        request = search_service_pb2.ListSearchesRequest(
            name=name, include_archived=include_archived, page_size=1000,
            states=[search_pb2.SearchState.Value("SEARCH_STATE_" + s.upper())
                    for s in states])
        return [Search.from_proto(s) for s in
                self._pages(self._stub.ListSearches, request, "searches")]

    def cancel(self, search_id: int) -> Search:
        return Search.from_proto(self._call(
            self._stub.CancelSearch,
            search_service_pb2.CancelSearchRequest(search_id=search_id)))

    # Trials.

    def trials(self, search_id: int, *,
               states: Sequence[str] = ()) -> List[Trial]:
        """Every trial of the search (all pages), in number order; `states`
        like ("COMPLETED", "FAILED")."""
        request = search_service_pb2.ListTrialsRequest(
            search_id=search_id, page_size=1000,
            states=[search_pb2.TrialState.Value("TRIAL_STATE_" + s.upper())
                    for s in states])
        return [Trial.from_proto(t) for t in
                self._pages(self._stub.ListTrials, request, "trials")]

    def best_trials(self, search_id: int, k: int = 5) -> BestTrials:
        """The best feasible trials by the search's objective (the Pareto
        front with several objectives), as `nasctl best` shows them; with
        weight sharing, retrained results only, never supernet estimates."""
        response = self._call(
            self._stub.GetBestTrials,
            search_service_pb2.GetBestTrialsRequest(search_id=search_id, k=k))
        return BestTrials([Trial.from_proto(t) for t in response.trials],
                          response.pareto_front)

    def export_model(self, search_id: int, directory: Union[str, os.PathLike],
                     trial_number: Optional[int] = None,
                     timeout: Optional[float] = 600) -> pathlib.Path:
        """Writes a trained model to `directory` as `nasctl export` does
        (model.json and its weights; docs/export.md): the best trial that
        kept its weights, or trial `trial_number`. nas_client.load_model
        reads it. Returns the directory."""
        request = search_service_pb2.ExportModelRequest(search_id=search_id)
        if trial_number is None:
            request.best = True
        else:
            request.trial_number = trial_number
        manifest, chunks = None, []
        try:
            for chunk in self._stub.ExportModel(
                    request, metadata=self._metadata, timeout=timeout):
                if manifest is None:
                    manifest = chunk.manifest
                chunks.append(chunk.data)
        except grpc.RpcError as e:
            raise NasError(e.code(), e.details()) from None
        weights = b"".join(chunks)
        if (manifest is None or len(weights) != manifest.weights.size or
                hashlib.sha256(weights).hexdigest() != manifest.weights.sha256):
            raise NasError(grpc.StatusCode.DATA_LOSS,
                           "the weights arrived damaged; export again")
        folder = pathlib.Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        # The manifest last: a folder with model.json holds a whole model.
        for name, data in ((manifest.weights.file, weights),
                           ("model.json", json_format.MessageToJson(
                               manifest, preserving_proto_field_name=True)
                            .encode())):
            partial = folder / (name + ".partial")
            partial.write_bytes(data)
            partial.replace(folder / name)
        return folder

    def watch(self, search_id: int,
              timeout: Optional[float] = None) -> Iterator[Event]:
        """The search's events as they happen: a snapshot first, then trial
        starts, epochs and finishes, and search_done last (the iterator
        ends there). `timeout` bounds the whole watch (None: no bound)."""
        request = search_service_pb2.WatchSearchRequest(search_id=search_id)
        try:
            # Several events to a message: a fleet at full speed sends
            # thousands a second. Trial and epoch events carry the search
            # without its spec; each Event gets the snapshot's.
            spec = None
            for batch in self._stub.WatchSearchBatched(
                    request, metadata=self._metadata, timeout=timeout):
                for event in batch.events:
                    if event.search.HasField("spec"):
                        spec = event.search.spec
                    elif spec is not None:
                        event.search.spec.CopyFrom(spec)
                    yield Event.from_proto(event)
        except grpc.RpcError as e:
            raise NasError(e.code(), e.details()) from None

    def wait(self, search_id: int, timeout: Optional[float] = None) -> Search:
        """Blocks until the search has ended; returns it."""
        for event in self.watch(search_id, timeout=timeout):
            if event.kind == "search_done":
                return event.search
        return self.search(search_id)
