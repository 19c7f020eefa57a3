"""Plain dataclasses for what the service returns, so that scripts need no
protobuf: enums become their short names ("COMPLETED", "RETRAIN"),
timestamps become aware datetimes (None when unset), and metrics become a
dict holding only what the estimator measured."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Dict, List, Optional

from google.protobuf import json_format

from nas_client._protos import search_pb2

_METRICS = ("val_accuracy", "val_loss", "test_accuracy", "test_loss",
            "params", "flops", "latency_ms", "train_seconds",
            "zero_cost_score")


def _enum_name(enum_type, value: int, prefix: str) -> str:
    name = enum_type.Name(value)
    return name[len(prefix):] if name.startswith(prefix) else name


def _time(ts) -> Optional[datetime.datetime]:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime().replace(tzinfo=datetime.timezone.utc)


@dataclasses.dataclass
class Trial:
    id: int
    search_id: int
    number: int
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, STOPPED, CANCELLED
    # TRAIN; with weight sharing also SUPERNET_SHARD, SCORE_INHERITED,
    # RETRAIN; with zero cost ZERO_COST, RETRAIN (docs/estimators.md).
    kind: str
    architecture: str
    choices: List[int]
    metrics: Dict[str, float]
    epochs: List[Dict[str, float]]
    attempt: int
    worker_id: str
    reason: str
    created_at: Optional[datetime.datetime]
    started_at: Optional[datetime.datetime]
    finished_at: Optional[datetime.datetime]
    # Early stopping with rungs: the highest rung the trial reached; None
    # without (docs/early_stopping.md).
    rung: Optional[int] = None

    @classmethod
    def from_proto(cls, t) -> "Trial":
        metrics = {name: getattr(t.metrics, name) for name in _METRICS
                   if t.metrics.HasField(name)}
        epochs = [{"epoch": e.epoch, "train_loss": e.train_loss,
                   "val_loss": e.val_loss, "val_accuracy": e.val_accuracy,
                   "seconds": e.seconds} for e in t.epochs]
        return cls(
            id=t.id, search_id=t.search_id, number=t.number,
            state=_enum_name(search_pb2.TrialState, t.state, "TRIAL_STATE_"),
            kind=_enum_name(search_pb2.TrialKind, t.kind or 1, "TRIAL_KIND_"),
            architecture=t.architecture.text,
            choices=list(t.architecture.choices), metrics=metrics,
            epochs=epochs, attempt=t.attempt, worker_id=t.worker_id,
            reason=t.reason, created_at=_time(t.created_at),
            started_at=_time(t.started_at), finished_at=_time(t.finished_at),
            rung=t.rung if t.HasField("rung") else None)


@dataclasses.dataclass
class Search:
    id: int
    name: str
    state: str  # RUNNING, COMPLETED, CANCELLED, FAILED
    state_reason: str
    owner: str
    max_trials: int
    counts: Dict[str, int]  # pending, running, completed, failed, ...
    warnings: List[str]
    supernet_version: int
    created_at: Optional[datetime.datetime]
    finished_at: Optional[datetime.datetime]
    spec: Dict[str, Any]  # the stored spec, defaults filled in

    @property
    def done(self) -> bool:
        return self.state != "RUNNING"

    @property
    def progress(self) -> str:
        """For example "7/8 finished", counting trials of every kind."""
        finished = sum(v for k, v in self.counts.items()
                       if k not in ("pending", "running"))
        return f"{finished}/{sum(self.counts.values())} finished"

    @classmethod
    def from_proto(cls, s) -> "Search":
        counts = {f.name: getattr(s.counts, f.name)
                  for f in s.counts.DESCRIPTOR.fields}
        return cls(
            id=s.id, name=s.spec.name,
            state=_enum_name(search_pb2.SearchState, s.state, "SEARCH_STATE_"),
            state_reason=s.state_reason, owner=s.owner,
            max_trials=s.spec.budget.max_trials, counts=counts,
            warnings=list(s.warnings), supernet_version=s.supernet_version,
            created_at=_time(s.created_at), finished_at=_time(s.finished_at),
            spec=json_format.MessageToDict(s.spec,
                                           preserving_proto_field_name=True))


@dataclasses.dataclass
class BestTrials:
    trials: List[Trial]
    # True when trials is a Pareto front (the search has several objectives).
    pareto_front: bool


@dataclasses.dataclass
class Event:
    # snapshot (first, once), trial_started, epoch_reported, trial_finished,
    # search_done (last).
    kind: str
    search: Search
    # trial_started and trial_finished: the trial; snapshot and search_done:
    # the best trial so far, if any.
    trial: Optional[Trial] = None
    # epoch_reported: trial_id, trial_number and the epoch's metrics.
    epoch: Optional[Dict[str, float]] = None

    @classmethod
    def from_proto(cls, e) -> "Event":
        kind = e.WhichOneof("event") or ""
        event = cls(kind=kind, search=Search.from_proto(e.search))
        if kind in ("trial_started", "trial_finished"):
            event.trial = Trial.from_proto(getattr(e, kind))
        elif kind in ("snapshot", "search_done"):
            best = getattr(e, kind).best_trial
            if best.id:
                event.trial = Trial.from_proto(best)
        elif kind == "epoch_reported":
            r = e.epoch_reported
            event.epoch = {"trial_id": r.trial_id,
                           "trial_number": r.trial_number,
                           "epoch": r.metrics.epoch,
                           "train_loss": r.metrics.train_loss,
                           "val_loss": r.metrics.val_loss,
                           "val_accuracy": r.metrics.val_accuracy,
                           "seconds": r.metrics.seconds}
        return event


def trials_frame(trials: List[Trial]):
    """The trials as a pandas DataFrame, one row per trial, one column per
    metric. Needs pandas (Debian: python3-pandas), which the rest of the
    client does not."""
    try:
        import pandas
    except ImportError as e:
        raise ImportError("trials_frame needs pandas "
                          "(apt-get install python3-pandas)") from e
    rows = []
    for t in trials:
        row = {"id": t.id, "number": t.number, "state": t.state,
               "kind": t.kind, "architecture": t.architecture,
               "attempt": t.attempt, "rung": t.rung,
               "finished_at": t.finished_at}
        row.update(t.metrics)
        rows.append(row)
    return pandas.DataFrame(rows)
