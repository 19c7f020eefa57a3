// PostgresStore: group commit of epoch reports and completions.
//
// At a fleet's pace most of a lifecycle's database cost was per statement
// and per commit, not per row (bench/controller/README.md): each report
// took a transaction of three statements, the first a SELECT ... FOR UPDATE
// that checked the lease. A batch writes many workers' reports with one
// statement whose WHERE is that lease check, and commits once; every caller
// is answered after the commit, so durability is unchanged.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/trial_kinds.h"
#include "controller/store/postgres_store_impl.h"
#include "controller/store/proto_rows.h"

namespace nas::controller {
namespace {

// Large enough that a fleet's burst fits in a few batches, small enough
// that one statement's arrays stay a few hundred kilobytes.
constexpr size_t kMaxBatch = 256;

// The rows of one unnest() column, in request order.
template <typename T, typename Fn>
std::string Column(const std::vector<const T*>& batch, Fn value) {
  std::vector<std::optional<std::string>> items;
  items.reserve(batch.size());
  for (const T* request : batch) items.push_back(value(*request));
  return NullableArrayLiteral(items);
}

template <typename T>
std::string WorkerIds(const std::vector<const T*>& batch) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  for (const T* request : batch) ids.push_back(request->ref.worker_id);
  return QuotedArrayLiteral(ids);
}

// A metric the estimator did not measure is NULL, not 0.
template <typename Metrics>
std::optional<std::string> Nullable(const Metrics& m,
                                    bool (Metrics::*has)() const,
                                    double (Metrics::*get)() const) {
  if (!(m.*has)()) return std::nullopt;
  return Float8((m.*get)());
}

template <typename Metrics>
std::optional<std::string> Nullable(const Metrics& m,
                                    bool (Metrics::*has)() const,
                                    int64_t (Metrics::*get)() const) {
  if (!(m.*has)()) return std::nullopt;
  return absl::StrCat((m.*get)());
}

// The lease check of a batch: the request's trial, still RUNNING under the
// attempt and worker it names. `r` is the unnest() of the requests.
constexpr char kLeaseMatches[] =
    "t.id = r.trial_id AND t.attempt = r.attempt AND "
    "t.worker_id = r.worker_id AND t.state = 'RUNNING'";

// A report renews its lease only when less than half of it is left
// (LeaseRenewalDue): an UPDATE of `trials` writes a new row version and an
// entry in each of its indexes, the costliest part of a report, and a
// trial that reports more often than every half lease needs none. The
// reports that keep their lease only read the row; one that races an
// expiry or a cancel is ordered before it, as if it had arrived first.
constexpr char kEpochBatchSql[] =
    "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], "
    "$4::int[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], "
    "$9::bigint[]) WITH ORDINALITY AS r(trial_id, attempt, worker_id, epoch, "
    "train_loss, val_loss, val_accuracy, seconds, micros, i)), "
    "held AS (SELECT r.i, t.search_id, t.number, t.kind, "
    "t.lease_expires_at < now() + (r.micros / 2) * interval '1 microsecond' "
    "AS renew FROM r JOIN trials t ON ";

constexpr char kEpochBatchSqlRenew[] =
    "), renewed AS (UPDATE trials t SET lease_expires_at = now() + r.micros * "
    "interval '1 microsecond' FROM r JOIN held h ON h.i = r.i AND h.renew "
    "WHERE ";

constexpr char kEpochBatchSqlTail[] =
    " RETURNING r.i), "
    "ok AS (SELECT i, search_id, number, kind FROM held WHERE NOT renew "
    "OR i IN (SELECT i FROM renewed)), "
    "saved AS (INSERT INTO trial_epochs (trial_id, attempt, epoch, "
    "train_loss, val_loss, val_accuracy, seconds) SELECT r.trial_id, "
    "r.attempt, r.epoch, r.train_loss, r.val_loss, r.val_accuracy, r.seconds "
    "FROM r JOIN ok ON ok.i = r.i "
    "ON CONFLICT (trial_id, attempt, epoch) DO NOTHING) "
    "SELECT i, search_id, number, kind FROM ok";

constexpr char kCompletionBatchSql[] =
    "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], "
    "$4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::bigint[], "
    "$9::bigint[], $10::float8[], $11::float8[], $12::float8[]) "
    "WITH ORDINALITY AS r(trial_id, attempt, worker_id, val_accuracy, "
    "val_loss, test_accuracy, test_loss, params, flops, latency_ms, "
    "train_seconds, zero_cost_score, i)) "
    "UPDATE trials t SET state = 'COMPLETED', val_accuracy = r.val_accuracy, "
    "val_loss = r.val_loss, test_accuracy = r.test_accuracy, "
    "test_loss = r.test_loss, params = r.params, flops = r.flops, "
    "latency_ms = r.latency_ms, train_seconds = r.train_seconds, "
    "zero_cost_score = r.zero_cost_score, lease_expires_at = NULL, "
    "finished_at = now() FROM r WHERE ";

// What the controller counts and routes of each trial that ended, from
// the rows the UPDATE wrote: no read of the trial or its curve after it.
std::string CompletionBatchSql() {
  return absl::StrCat(kCompletionBatchSql, kLeaseMatches, " RETURNING r.i, ",
                      kTrialEndingColumns);
}

// A batch's transaction failed as a whole: an outage answers everyone at
// once (alone, each would wait for its own connect timeout); anything else
// (a deadlock with another writer, one bad row) is retried alone, where
// each request gets its own answer.
bool RetryAlone(const absl::Status& status) {
  return !absl::IsUnavailable(status);
}

}  // namespace

PostgresStore::PostgresStore(const std::string& url, int pool_size)
    : pool_(url, pool_size),
      epochs_(
          [this](const std::vector<const EpochRequest*>& batch) {
            return RecordEpochBatch(batch);
          },
          kMaxBatch),
      completions_(
          [this](const std::vector<const CompletionRequest*>& batch) {
            return CompleteTrialBatch(batch);
          },
          kMaxBatch),
      leases_(
          [this](const std::vector<const LeaseRequest*>& batch) {
            return LeaseTrialBatch(batch);
          },
          kMaxBatch),
      search_checks_(
          [this](const std::vector<const int64_t*>& batch) {
            return CompleteSearchBatch(batch);
          },
          kMaxBatch) {}

DatabaseStats PostgresStore::database_stats() const {
  DatabaseStats stats = pool_.stats();
  for (const auto& [name, committer_stats] :
       {std::pair{"leases", leases_.stats()},
        std::pair{"epochs", epochs_.stats()},
        std::pair{"completions", completions_.stats()},
        std::pair{"search_checks", search_checks_.stats()}}) {
    stats.batching[name] = {committer_stats.batches, committer_stats.requests,
                            committer_stats.queued};
  }
  return stats;
}

std::vector<absl::StatusOr<EpochAck>> PostgresStore::RecordEpochBatch(
    const std::vector<const EpochRequest*>& batch, bool retry) {
  using Request = EpochRequest;
  std::vector<std::optional<absl::StatusOr<EpochAck>>> answers(batch.size());
  // One statement: running it twice (WriteOne's retry) stores each epoch
  // once (ON CONFLICT DO NOTHING) and leaves each lease as long as one run.
  const absl::Status written = pool_.WriteOne([&](pqxx::transaction_base& tx) {
    answers.assign(batch.size(), std::nullopt);
    const pqxx::result rows = ExecPrepared(
        tx,
        absl::StrCat(kEpochBatchSql, kLeaseMatches, kEpochBatchSqlRenew,
                     kLeaseMatches, kEpochBatchSqlTail),
        Column(batch,
               [](const Request& q) { return absl::StrCat(q.ref.trial_id); }),
        Column(batch,
               [](const Request& q) { return absl::StrCat(q.ref.attempt); }),
        WorkerIds(batch),
        Column(
            batch,
            [](const Request& q) { return absl::StrCat(q.metrics.epoch()); }),
        Column(batch,
               [](const Request& q) { return Float8(q.metrics.train_loss()); }),
        Column(batch,
               [](const Request& q) { return Float8(q.metrics.val_loss()); }),
        Column(
            batch,
            [](const Request& q) { return Float8(q.metrics.val_accuracy()); }),
        Column(batch,
               [](const Request& q) { return Float8(q.metrics.seconds()); }),
        Column(batch,
               [](const Request& q) { return absl::StrCat(q.lease_micros); }));
    for (const pqxx::row& row : rows) {
      EpochAck ack;
      ack.search_id = row["search_id"].as<int64_t>();
      ack.trial_number = row["number"].as<int32_t>();
      ack.kind = TrialKindFromName(row["kind"].c_str());
      answers[row["i"].as<size_t>() - 1] = ack;
    }
    return absl::OkStatus();
  });
  std::vector<absl::StatusOr<EpochAck>> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (answers[i].has_value()) {
      results.push_back(*std::move(answers[i]));
    } else if (written.ok()) {
      results.push_back(RefusedEpoch(*batch[i], retry));
    } else if (RetryAlone(written) && retry) {
      results.push_back(RecordEpochBatch({batch[i]}, /*retry=*/false).front());
    } else {
      results.push_back(written);
    }
  }
  return results;
}

std::vector<absl::StatusOr<Completion>> PostgresStore::CompleteTrialBatch(
    const std::vector<const CompletionRequest*>& batch, bool retry) {
  using Request = CompletionRequest;
  using M = nas::v1::TrialMetrics;
  std::vector<std::optional<Completion>> answers(batch.size());
  const absl::Status written = pool_.Transact([&](pqxx::work& tx)
                                                  -> absl::Status {
    const pqxx::result rows = ExecPrepared(
        tx, CompletionBatchSql(),
        Column(batch,
               [](const Request& q) { return absl::StrCat(q.ref.trial_id); }),
        Column(batch,
               [](const Request& q) { return absl::StrCat(q.ref.attempt); }),
        WorkerIds(batch),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_val_accuracy,
                                 &M::val_accuracy);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_val_loss, &M::val_loss);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_test_accuracy,
                                 &M::test_accuracy);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_test_loss, &M::test_loss);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_params, &M::params);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_flops, &M::flops);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_latency_ms, &M::latency_ms);
               }),
        Column(batch,
               [](const Request& q) {
                 return Nullable(q.metrics, &M::has_train_seconds,
                                 &M::train_seconds);
               }),
        Column(batch, [](const Request& q) {
          return Nullable(q.metrics, &M::has_zero_cost_score,
                          &M::zero_cost_score);
        }));
    std::vector<int64_t> states_to_drop;
    std::vector<std::pair<size_t, nas::v1::Trial>> endings;
    for (const pqxx::row& row : rows) {
      absl::StatusOr<nas::v1::Trial> ending = TrialEndingFromRow(row);
      if (!ending.ok()) return ending.status();
      // A completed candidate that is not ranked (a score with inherited
      // weights) uploaded only its state for resuming, which nothing
      // resumes now. A TRAIN trial's upload is its final weights (the
      // worker replaced its state), kept to be exported.
      if (IsEarlyStoppableKind(ending->kind()) &&
          !spec::IsRankedKind(ending->kind())) {
        states_to_drop.push_back(ending->id());
      }
      endings.emplace_back(row["i"].as<size_t>() - 1, *std::move(ending));
    }
    if (!states_to_drop.empty()) {
      ExecPrepared0(
          tx,
          "DELETE FROM checkpoints WHERE trial_id = ANY($1::bigint[]) "
          "AND version = 0",
          Int64ArrayLiteral(states_to_drop));
    }
    // Trials of watched searches, read whole in one statement for the
    // batch (alone, each would cost its caller two more round trips).
    std::map<int64_t, size_t> whole_at;  // trial id -> index in `endings`
    for (size_t k = 0; k < endings.size(); ++k) {
      const auto& [index, ending] = endings[k];
      const ReadsWhole& reads_whole = batch[index]->reads_whole;
      if (reads_whole && reads_whole(ending.search_id())) {
        whole_at[ending.id()] = k;
      }
    }
    std::vector<nas::v1::Trial> wholes;
    if (!whole_at.empty()) {
      std::vector<int64_t> ids;
      for (const auto& [id, k] : whole_at) ids.push_back(id);
      const pqxx::result read = ExecPrepared(
          tx,
          absl::StrCat("SELECT ", kTrialColumns,
                       " FROM trials t WHERE t.id = ANY($1::bigint[])"),
          Int64ArrayLiteral(ids));
      for (const pqxx::row& row : read) {
        absl::StatusOr<nas::v1::Trial> trial = TrialFromRow(row);
        if (!trial.ok()) return trial.status();
        wholes.push_back(*std::move(trial));
      }
      LoadEpochs(tx, &wholes);
    }
    tx.commit();
    for (auto& [index, ending] : endings) {
      answers[index] = Completion{true, std::move(ending), false};
    }
    for (nas::v1::Trial& trial : wholes) {
      Completion& answer = *answers[endings[whole_at.at(trial.id())].first];
      answer.ending = std::move(trial);
      answer.whole = true;
    }
    return absl::OkStatus();
  });
  std::vector<absl::StatusOr<Completion>> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (answers[i].has_value()) {
      results.push_back(*std::move(answers[i]));
    } else if (written.ok()) {
      results.push_back(RefusedCompletion(*batch[i], retry));
    } else if (RetryAlone(written) && retry) {
      results.push_back(
          CompleteTrialBatch({batch[i]}, /*retry=*/false).front());
    } else {
      results.push_back(written);
    }
  }
  return results;
}

std::vector<PostgresStore::LeaseResult> PostgresStore::LeaseTrialBatch(
    const std::vector<const LeaseRequest*>& batch) {
  // Each request's trial, when it got one; nullopt: none it may run.
  std::vector<std::optional<nas::v1::TrialAssignment>> assigned(batch.size());
  const absl::Status leased =
      pool_.Transact([&](pqxx::work& tx) -> absl::Status {
        // Workers that declared the same capabilities may run the same trials:
        // one query per such group, usually one for the whole fleet.
        std::map<Capabilities, std::vector<size_t>> groups;
        const std::vector<Capabilities> caps = CapabilitiesOf(tx, batch);
        for (size_t i = 0; i < batch.size(); ++i) groups[caps[i]].push_back(i);
        // Trial rows by request index, each group leased before the next
        // looks: the next group's SKIP LOCKED does not skip rows this
        // transaction locked, only still-PENDING ones would be offered twice.
        std::vector<std::optional<pqxx::row>> rows(batch.size());
        std::map<int64_t, int32_t> attempt_of;
        for (const auto& [group_caps, members] : groups) {
          const pqxx::result candidates =
              ExecPrepared(tx, LeaseCandidatesSql(), group_caps,
                           static_cast<int64_t>(members.size()));
          if (candidates.empty()) continue;
          std::vector<std::optional<std::string>> trial_ids, micros;
          std::vector<std::string> holders;
          for (size_t k = 0; k < candidates.size(); ++k) {
            const size_t index = members[k];
            rows[index] = candidates[k];
            trial_ids.push_back(candidates[k]["id"].c_str());
            holders.push_back(batch[index]->worker_id);
            micros.push_back(absl::StrCat(batch[index]->lease_micros));
          }
          const pqxx::result attempts = ExecPrepared(
              tx,
              "UPDATE trials t SET state = 'RUNNING', attempt = t.attempt + 1, "
              "worker_id = u.worker_id, "
              "lease_expires_at = now() + u.micros * interval '1 microsecond', "
              "started_at = now(), finished_at = NULL "
              "FROM unnest($1::bigint[], $2::text[], $3::bigint[]) "
              "AS u(id, worker_id, micros) WHERE t.id = u.id "
              "RETURNING t.id, t.attempt",
              NullableArrayLiteral(trial_ids), QuotedArrayLiteral(holders),
              NullableArrayLiteral(micros));
          for (const pqxx::row& row : attempts) {
            attempt_of[row["id"].as<int64_t>()] = row["attempt"].as<int32_t>();
          }
        }
        // Parsed once per search: a batch often holds many of one search's
        // trials, and its spec is the largest column.
        std::map<int64_t, nas::v1::SearchSpec> specs;
        for (size_t i = 0; i < batch.size(); ++i) {
          if (!rows[i].has_value()) continue;
          const pqxx::row& row = *rows[i];
          auto [spec, added] =
              specs.try_emplace(row["search_id"].as<int64_t>());
          if (added) {
            absl::Status parsed = FromJson(row["spec"].c_str(), &spec->second);
            if (!parsed.ok()) return parsed;
          }
          absl::StatusOr<nas::v1::TrialAssignment> assignment =
              AssignmentFromRow(row, spec->second,
                                attempt_of.at(row["id"].as<int64_t>()),
                                batch[i]->lease);
          if (!assignment.ok()) return assignment.status();
          assigned[i] = *std::move(assignment);
        }
        tx.commit();
        return absl::OkStatus();
      });
  std::vector<LeaseResult> results;
  results.reserve(batch.size());
  if (!leased.ok() && RetryAlone(leased) && batch.size() > 1) {
    // A deadlock with another writer, or one trial whose stored spec does
    // not parse: alone, the others still get their trials.
    for (const LeaseRequest* request : batch) {
      results.push_back(std::move(LeaseTrialBatch({request}).front()));
    }
    return results;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!leased.ok()) {
      results.push_back(leased);
    } else {
      results.push_back(std::move(assigned[i]));
    }
  }
  return results;
}

std::vector<PostgresStore::Capabilities> PostgresStore::CapabilitiesOf(
    pqxx::transaction_base& tx, const std::vector<const LeaseRequest*>& batch) {
  std::vector<Capabilities> caps(batch.size());
  std::vector<std::string> unknown;
  std::vector<size_t> unknown_at;
  {
    std::lock_guard<std::mutex> lock(capabilities_mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      auto it = capabilities_.find(batch[i]->worker_id);
      if (it != capabilities_.end()) {
        caps[i] = it->second;
      } else {
        unknown.push_back(batch[i]->worker_id);
        unknown_at.push_back(i);
      }
    }
  }
  if (unknown.empty()) return caps;
  const pqxx::result rows = ExecPrepared(
      tx,
      "SELECT q.i, w.id IS NOT NULL AS registered, "
      "w.capabilities::text AS caps FROM unnest($1::text[]) "
      "WITH ORDINALITY AS q(id, i) LEFT JOIN workers w ON w.id = q.id",
      QuotedArrayLiteral(unknown));
  std::lock_guard<std::mutex> lock(capabilities_mu_);
  // A bound, not an eviction policy: each registration makes a new id, so
  // ids of workers long gone pile up; they are read again if they return.
  if (capabilities_.size() > 100000) capabilities_.clear();
  for (const pqxx::row& row : rows) {
    const size_t k = row["i"].as<size_t>() - 1;
    if (!row["caps"].is_null()) caps[unknown_at[k]] = row["caps"].c_str();
    // An unknown id is not remembered: it may be registered by the time it
    // asks again (through another controller replica).
    if (row["registered"].as<bool>()) {
      capabilities_[unknown[k]] = caps[unknown_at[k]];
    }
  }
  return caps;
}

std::vector<absl::StatusOr<bool>> PostgresStore::CompleteSearchBatch(
    const std::vector<const int64_t*>& batch) {
  std::vector<int64_t> ids;
  for (const int64_t* id : batch) ids.push_back(*id);
  absl::StatusOr<std::set<int64_t>> closed =
      pool_.Run([&](pqxx::connection& c) -> absl::StatusOr<std::set<int64_t>> {
        pqxx::nontransaction tx(c);
        std::set<int64_t> none_open;
        for (const pqxx::row& row : ExecPrepared(
                 tx,
                 "SELECT s.id FROM unnest($1::bigint[]) AS s(id) WHERE NOT "
                 "EXISTS (SELECT 1 FROM trials WHERE search_id = s.id AND "
                 "state IN ('PENDING', 'RUNNING'))",
                 Int64ArrayLiteral(ids))) {
          none_open.insert(row["id"].as<int64_t>());
        }
        return none_open;
      });
  std::vector<absl::StatusOr<bool>> results;
  results.reserve(batch.size());
  std::set<int64_t> checked;
  for (int64_t id : ids) {
    if (!closed.ok()) {
      results.push_back(closed.status());
    } else if (!closed->count(id) || !checked.insert(id).second) {
      // Still open, or asked twice in this batch: one lock and one answer
      // is enough, and only one call can have completed it.
      results.push_back(false);
    } else {
      results.push_back(CompleteSearchLocked(id));
    }
  }
  return results;
}

absl::StatusOr<Completion> PostgresStore::CompleteTrialAndGet(
    const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
    const ReadsWhole& reads_whole) {
  return completions_.Submit(CompletionRequest{ref, metrics, reads_whole});
}

absl::StatusOr<bool> PostgresStore::CompleteTrial(
    const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) {
  absl::StatusOr<Completion> completion =
      completions_.Submit(CompletionRequest{ref, metrics, nullptr});
  if (!completion.ok()) return completion.status();
  return completion->ended;
}

}  // namespace nas::controller
