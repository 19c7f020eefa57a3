// PostgresStore: trials and leases.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/spec/early_stopping.h"
#include "common/spec/trial_kinds.h"
#include "controller/store/capability_tokens.h"
#include "controller/store/pg_checks.h"
#include "controller/store/postgres_store_impl.h"
#include "controller/store/proto_rows.h"
#include "controller/store/store_rules.h"

namespace nas::controller {
namespace {

// The lease length as an SQL interval: $n * interval '1 microsecond'.
absl::StatusOr<int64_t> LeaseMicros(absl::Duration lease) {
  if (lease <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the lease must be positive");
  }
  return absl::ToInt64Microseconds(lease);
}

int32_t LeaseSeconds(absl::Duration lease) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(lease));
  return seconds > std::numeric_limits<int32_t>::max()
             ? std::numeric_limits<int32_t>::max()
             : static_cast<int32_t>(seconds);
}

// SQL that appends `line` (an SQL expression) to trials.reason as a new
// line: lines are joined by newlines, with none at the end.
std::string AppendReason(const std::string& line) {
  return absl::StrCat("reason = CASE WHEN reason = '' THEN ", line,
                      " ELSE reason || E'\\n' || ", line, " END");
}

// A trial row read for a lease check.
struct LockedTrial {
  std::string state;
  int32_t attempt = 0;
  std::string worker_id;
  int64_t search_id = 0;
  int32_t number = 0;
  std::string kind;
};

// How a lease check reads the trial's row.
enum class RowLock {
  // FOR UPDATE: the caller goes on to write the row in the same
  // transaction, so the row must not change under it.
  kForUpdate,
  // A plain read (no transaction needed), for a check that only explains
  // why a batch's WHERE refused a lease (AnswerRefused): it writes nothing
  // and need not wait for another writer of the row.
  kNone,
};

// Reads trial ref.trial_id and checks that `ref` is its current lease.
// NotFound for an unknown trial, FailedPrecondition for a stale lease.
absl::StatusOr<LockedTrial> CheckLease(pqxx::transaction_base& tx,
                                       const LeaseRef& ref, RowLock lock) {
  const pqxx::result rows = ExecPrepared(
      tx,
      lock == RowLock::kForUpdate
          ? "SELECT state, attempt, coalesce(worker_id, '') AS worker_id, "
            "search_id, number, kind FROM trials WHERE id = $1 FOR UPDATE"
          : "SELECT state, attempt, coalesce(worker_id, '') AS worker_id, "
            "search_id, number, kind FROM trials WHERE id = $1",
      ref.trial_id);
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("trial ", ref.trial_id, " not found"));
  }
  LockedTrial trial{rows[0]["state"].c_str(),
                    rows[0]["attempt"].as<int32_t>(),
                    rows[0]["worker_id"].c_str(),
                    rows[0]["search_id"].as<int64_t>(),
                    rows[0]["number"].as<int32_t>(),
                    rows[0]["kind"].c_str()};
  if (trial.attempt != ref.attempt || trial.worker_id != ref.worker_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", ref.trial_id, ": lease attempt ", ref.attempt, " of worker ",
        ref.worker_id, " is stale; the current attempt is ", trial.attempt,
        " (", trial.state,
        trial.worker_id.empty() ? ""
                                : absl::StrCat(" on worker ", trial.worker_id),
        ")"));
  }
  return trial;
}

// CheckLease that locks the row, for a transaction that writes it.
absl::StatusOr<LockedTrial> LockLease(pqxx::work& tx, const LeaseRef& ref) {
  return CheckLease(tx, ref, RowLock::kForUpdate);
}

std::string SelectTrials(const char* from_where_order) {
  return absl::StrCat("SELECT ", kTrialColumns, " ", from_where_order);
}

absl::StatusOr<std::vector<nas::v1::Trial>> TrialsFromRows(
    const pqxx::result& rows) {
  std::vector<nas::v1::Trial> trials;
  trials.reserve(rows.size());
  for (const pqxx::row& row : rows) {
    absl::StatusOr<nas::v1::Trial> trial = TrialFromRow(row);
    if (!trial.ok()) return trial.status();
    trials.push_back(*std::move(trial));
  }
  return trials;
}

// For calls that keep a running trial alive (epoch reports, heartbeats):
// locks the lease `ref`; nullopt when its trial still runs, a stop answer
// when the trial was cancelled or stopped meanwhile, FailedPrecondition
// (ending in `refused`) when it has finished.
absl::StatusOr<std::optional<EpochAck>> RunningOrStop(
    const LockedTrial& trial, const LeaseRef& ref, const char* refused) {
  if (trial.state == "CANCELLED" || trial.state == "STOPPED") {
    return std::optional<EpochAck>(EpochAck{/*stop=*/true});
  }
  if (trial.state != "RUNNING") {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", ref.trial_id, " is already ", trial.state, "; ", refused));
  }
  return std::optional<EpochAck>();
}

absl::StatusOr<std::optional<EpochAck>> CheckRunningLease(
    pqxx::transaction_base& tx, const LeaseRef& ref, const char* refused,
    RowLock lock) {
  absl::StatusOr<LockedTrial> trial = CheckLease(tx, ref, lock);
  if (!trial.ok()) return trial.status();
  return RunningOrStop(*trial, ref, refused);
}

// The lease check of an ending to `target`: the trial when `ref` may end
// it now; nullopt when this ending was already recorded (a repeated report
// of the same attempt's outcome); the error otherwise.
absl::StatusOr<std::optional<LockedTrial>> CheckEnding(
    pqxx::transaction_base& tx, const LeaseRef& ref, const char* target,
    RowLock lock) {
  absl::StatusOr<LockedTrial> trial = CheckLease(tx, ref, lock);
  if (!trial.ok()) return trial.status();
  if (trial->state == target) return std::nullopt;
  if (trial->state != "RUNNING") {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", ref.trial_id, " is ", trial->state,
                     "; only a RUNNING trial can become ", target));
  }
  return std::optional<LockedTrial>(*std::move(trial));
}

// The answer to a request that its batch's WHERE refused (RefusedEpoch,
// RefusedCompletion): `explain(tx)` reads the trial and returns the answer
// (the lease check's error, a stop, a repeat), or nullopt when the lease is
// current after all: the request was twice in its batch, which one UPDATE
// matches once. Such a request runs again through `again` (a batch of
// one) when `may_retry`; otherwise it is an internal error naming `what`.
//
// A plain read suffices, without a transaction or FOR UPDATE: the batch
// refused the lease against a committed row, and a lease that is not
// current never becomes current again (each lease raises the attempt; an
// ended attempt never runs again), so any later committed row explains the
// refusal as well; waiting for a concurrent writer's commit would change
// no answer's kind, only which later state a stale lease's message names.
// Nothing is written on its word: a retry runs its own lease check.
template <typename Answer, typename Explain, typename Again>
absl::StatusOr<Answer> AnswerRefused(PgPool& pool, const LeaseRef& ref,
                                     const char* what, bool may_retry,
                                     Explain explain, Again again) {
  absl::StatusOr<std::optional<Answer>> answer = pool.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<Answer>> {
        return explain(tx);
      });
  if (!answer.ok()) return answer.status();
  if (answer->has_value()) return **answer;
  if (!may_retry) {
    return absl::InternalError(
        absl::StrCat("trial ", ref.trial_id, ": the ", what,
                     " matched the running lease but was not written"));
  }
  return again();
}

// The schema's trials_task_check, said before the INSERT so the caller
// learns which trial broke it.
absl::Status CheckTaskFitsKind(const NewTrial& trial, size_t index) {
  const bool needs_task = trial.kind == nas::v1::TRIAL_KIND_SUPERNET_SHARD ||
                          trial.kind == nas::v1::TRIAL_KIND_SCORE_INHERITED;
  if (needs_task == trial.task.has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "trials[", index, "]: a ", TrialKindName(trial.kind), " trial ",
      needs_task ? "needs a SupernetTask" : "takes no SupernetTask",
      "; only SUPERNET_SHARD and SCORE_INHERITED trials have one"));
}

void ExtendLease(pqxx::work& tx, int64_t trial_id, int64_t micros) {
  ExecPrepared0(tx,
                "UPDATE trials SET lease_expires_at = now() + $2 * interval "
                "'1 microsecond' WHERE id = $1",
                trial_id, micros);
}

}  // namespace

absl::StatusOr<std::vector<nas::v1::Trial>> PostgresStore::ListTrials(
    int64_t search_id, const std::vector<nas::v1::TrialState>& states,
    int32_t after_number, int limit) {
  std::vector<std::string> names;
  for (nas::v1::TrialState state : states) {
    names.push_back(TrialStateName(state));
  }
  return pool_.Read(
      [&](pqxx::transaction_base& tx)
          -> absl::StatusOr<std::vector<nas::v1::Trial>> {
        absl::Status exists = CheckSearchExists(tx, search_id);
        if (!exists.ok()) return exists;
        if (limit <= 0) return std::vector<nas::v1::Trial>();
        absl::StatusOr<std::vector<nas::v1::Trial>> trials =
            TrialsFromRows(ExecPrepared(
                tx,
                SelectTrials("FROM trials t WHERE t.search_id = $1 "
                             "AND t.number > $2 AND (cardinality($3::text[]) "
                             "= 0 OR t.state = ANY($3::text[])) "
                             "ORDER BY t.number LIMIT $4"),
                search_id, after_number, TextArrayLiteral(names), limit));
        if (trials.ok()) LoadEpochs(tx, &*trials);
        return trials;
      });
}

const std::string& ListChangedTrialsSql() {
  // One statement, so that a strategy step's refresh costs one round trip:
  // the search's row says whether it exists (no trial: one row of NULLs),
  // and each part reaches its trials through the (search_id, number) index.
  // The new trials' part has its own ORDER BY and LIMIT: a prepared
  // statement runs on a generic plan after a few calls, which cannot know
  // that `number > $2` keeps only the newest few. Without them that plan
  // guessed a third of the search's trials and scanned the whole table, so
  // every refresh cost more as the history grew.
  static const std::string kSql = absl::StrCat(
      "SELECT c.* FROM searches s LEFT JOIN LATERAL ((SELECT ",
      kTrialOutlineColumns,
      " FROM trials t WHERE t.search_id = s.id AND t.number > $2 "
      "ORDER BY t.number LIMIT $5) UNION ALL (SELECT ",
      kTrialOutlineColumns,
      " FROM unnest($3::integer[], $4::text[]) AS k(number, state) "
      "JOIN trials t ON t.search_id = s.id AND t.number = k.number "
      "WHERE t.number <= $2 AND t.state <> k.state) "
      "ORDER BY number LIMIT $5) c ON true WHERE s.id = $1 ORDER BY c.number");
  return kSql;
}

absl::StatusOr<std::vector<nas::v1::Trial>> PostgresStore::ListChangedTrials(
    int64_t search_id, int32_t after_number,
    const std::vector<SeenTrialState>& watched, int limit) {
  std::vector<int64_t> numbers;
  std::vector<std::string> states;
  for (const SeenTrialState& seen : watched) {
    numbers.push_back(seen.number);
    states.push_back(TrialStateName(seen.state));
  }
  return pool_.Read([&](pqxx::transaction_base& tx)
                        -> absl::StatusOr<std::vector<nas::v1::Trial>> {
    const pqxx::result rows =
        ExecPrepared(tx, ListChangedTrialsSql(), search_id, after_number,
                     Int64ArrayLiteral(numbers), TextArrayLiteral(states),
                     std::max(limit, 0));
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("search ", search_id, " not found"));
    }
    std::vector<nas::v1::Trial> trials;
    for (const pqxx::row& row : rows) {
      if (row["id"].is_null()) continue;  // a search without changes
      absl::StatusOr<nas::v1::Trial> trial = TrialOutlineFromRow(row);
      if (!trial.ok()) return trial.status();
      trials.push_back(*std::move(trial));
    }
    return trials;
  });
}

absl::StatusOr<nas::v1::Trial> PostgresStore::GetTrial(int64_t trial_id) {
  return pool_.Read([&](pqxx::transaction_base& tx)
                        -> absl::StatusOr<nas::v1::Trial> {
    absl::StatusOr<std::vector<nas::v1::Trial>> trials =
        TrialsFromRows(ExecPrepared(
            tx, SelectTrials("FROM trials t WHERE t.id = $1"), trial_id));
    if (!trials.ok()) return trials.status();
    if (trials->empty()) {
      return absl::NotFoundError(
          absl::StrCat("trial ", trial_id, " not found"));
    }
    LoadEpochs(tx, &*trials);
    return std::move(trials->front());
  });
}

absl::StatusOr<std::vector<nas::v1::Trial>> PostgresStore::BestTrials(
    int64_t search_id, int k) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx)
          -> absl::StatusOr<std::vector<nas::v1::Trial>> {
        absl::Status exists = CheckSearchExists(tx, search_id);
        if (!exists.ok()) return exists;
        if (k <= 0) return std::vector<nas::v1::Trial>();
        // The ranking (objective column and direction) lives in the
        // best_trials view. The k best are chosen before the join, which
        // then reads k trials rather than every trial in the table. Not
        // prepared: a generic plan cannot tell a search of ten trials
        // from one of a million, and scanned the table for both; planned
        // with its search's id, a small search beside a large one reads
        // only its own trials. (Rare: a watch's start and end, GetBestTrials.)
        static const std::string kSql = SelectTrials(
            "FROM (SELECT b.trial_id, b.rank, b.number FROM best_trials b "
            "WHERE b.search_id = $1 ORDER BY b.rank, b.number LIMIT $2) b "
            "JOIN trials t ON t.id = b.trial_id ORDER BY b.rank, b.number");
        absl::StatusOr<std::vector<nas::v1::Trial>> trials =
            TrialsFromRows(tx.exec_params(kSql, search_id, k));
        if (trials.ok()) LoadEpochs(tx, &*trials);
        return trials;
      });
}

absl::Status PostgresStore::AddTrials(int64_t search_id, int expected_count,
                                      const std::vector<NewTrial>& trials) {
  std::vector<std::string> budgets;
  std::vector<std::optional<std::string>> tasks;  // nullopt: SQL NULL
  for (size_t i = 0; i < trials.size(); ++i) {
    const NewTrial& trial = trials[i];
    absl::Status task_fits = CheckTaskFitsKind(trial, i);
    if (!task_fits.ok()) return task_fits;
    absl::StatusOr<std::string> json = ToJson(trial.budget);
    if (!json.ok()) return json.status();
    budgets.push_back(*std::move(json));
    tasks.emplace_back();
    if (trial.task) {
      json = ToJson(*trial.task, /*with_defaults=*/true);
      if (!json.ok()) return json.status();
      tasks.back() = *std::move(json);
    }
  }
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    // The search row lock serializes AddTrials per search across replicas.
    const pqxx::result search = ExecPrepared(
        tx, "SELECT state FROM searches WHERE id = $1 FOR UPDATE", search_id);
    if (search.empty()) {
      return absl::NotFoundError(
          absl::StrCat("search ", search_id, " not found"));
    }
    const std::string state = search[0]["state"].c_str();
    if (state != "RUNNING") {
      return absl::FailedPreconditionError(
          absl::StrCat("search ", search_id, " is ", state,
                       "; trials can only be added to a RUNNING search"));
    }
    // Numbers run from 0 without gaps (this is the only insert), so the
    // highest says how many there are, from the (search_id, number) index
    // in one step; count(*) would read the search's whole history.
    const int64_t count =
        ExecPrepared1(tx,
                      "SELECT coalesce(max(number) + 1, 0) FROM trials "
                      "WHERE search_id = $1",
                      search_id)[0]
            .as<int64_t>();
    if (count != expected_count) {
      return absl::AbortedError(absl::StrCat(
          "search ", search_id, " has ", count, " trials, not the expected ",
          expected_count, "; another writer added trials meanwhile"));
    }
    // One statement for the whole step, however many trials it adds.
    std::vector<std::optional<std::string>> kinds, texts, choices, keys,
        budget_texts, seeds;
    for (const NewTrial& trial : trials) {
      kinds.push_back(TrialKindName(trial.kind));
      texts.push_back(trial.architecture.text());
      choices.push_back(IntArrayLiteral(trial.architecture.choices()));
      keys.push_back(trial.canonical_key);
      seeds.push_back(absl::StrCat(static_cast<int64_t>(trial.seed)));
    }
    budget_texts.assign(budgets.begin(), budgets.end());
    ExecPrepared0(
        tx,
        "INSERT INTO trials (search_id, number, kind, arch_text, "
        "arch_choices, canonical_key, budget, seed, task) "
        "SELECT $1, $2 + r.i - 1, r.kind, r.arch_text, "
        "r.choices::integer[], r.key, r.budget::jsonb, r.seed, "
        "r.task::jsonb FROM unnest($3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::text[], $8::bigint[], $9::text[]) WITH ORDINALITY "
        "AS r(kind, arch_text, choices, key, budget, seed, task, i) "
        "ORDER BY r.i",
        search_id, static_cast<int64_t>(expected_count),
        QuotedArrayLiteral(kinds), QuotedArrayLiteral(texts),
        QuotedArrayLiteral(choices), QuotedArrayLiteral(keys),
        QuotedArrayLiteral(budget_texts), NullableArrayLiteral(seeds),
        QuotedArrayLiteral(tasks));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>>
PostgresStore::LeaseTrial(const std::string& worker_id, absl::Duration lease) {
  absl::StatusOr<int64_t> micros = LeaseMicros(lease);
  if (!micros.ok()) return micros.status();
  if (worker_id.empty()) {
    return absl::InvalidArgumentError("worker_id is empty");
  }
  return leases_.Submit(LeaseRequest{worker_id, *micros, lease});
}

std::string LeaseCandidatesSql() {
  // caps is NULL for a worker that declared no capabilities (or an unknown
  // id): it is offered everything, as before capabilities. The token a
  // trial needs names its own kind, so one search's shards and retrains may
  // go to different workers.
  return absl::StrCat(
      "WITH me AS (SELECT $1::text[] AS caps) "
      "SELECT t.id, t.search_id, t.number, t.kind, t.arch_text, "
      "t.arch_choices, t.budget::text AS budget, t.seed, "
      "t.task::text AS task, s.spec::text AS spec, "
      "EXISTS (SELECT 1 FROM checkpoints k WHERE k.trial_id = t.id "
      "AND k.version = 0) AS has_upload "
      "FROM trials t JOIN searches s ON s.id = t.search_id "
      "CROSS JOIN me "
      "WHERE t.state = 'PENDING' AND s.state = 'RUNNING' "
      "AND (me.caps IS NULL OR ",
      kNeedTokenSql, " = ANY(me.caps) OR ", kAnyDatasetTokenSql,
      " = ANY(me.caps)) "
      "ORDER BY s.id, t.number LIMIT $2 FOR UPDATE OF t SKIP LOCKED");
}

absl::StatusOr<nas::v1::TrialAssignment> AssignmentFromRow(
    const pqxx::row& row, const nas::v1::SearchSpec& spec, int32_t attempt,
    absl::Duration lease) {
  absl::Status parsed;
  nas::v1::TrialAssignment assignment;
  assignment.set_trial_id(row["id"].as<int64_t>());
  assignment.set_search_id(row["search_id"].as<int64_t>());
  assignment.set_trial_number(row["number"].as<int32_t>());
  assignment.set_attempt(attempt);
  assignment.set_kind(TrialKindFromName(row["kind"].c_str()));
  *assignment.mutable_dataset() = spec.dataset();
  *assignment.mutable_space() = spec.space();
  assignment.mutable_architecture()->set_text(row["arch_text"].c_str());
  parsed = ParseIntArray(row["arch_choices"].c_str(),
                         assignment.mutable_architecture()->mutable_choices());
  if (!parsed.ok()) return parsed;
  parsed = FromJson(row["budget"].c_str(), assignment.mutable_budget());
  if (!parsed.ok()) return parsed;
  assignment.set_seed(static_cast<uint64_t>(row["seed"].as<int64_t>()));
  assignment.set_lease_seconds(LeaseSeconds(lease));
  if (!row["task"].is_null()) {
    parsed = FromJson(row["task"].c_str(), assignment.mutable_task());
    if (!parsed.ok()) return parsed;
  }
  if (assignment.kind() == nas::v1::TRIAL_KIND_ZERO_COST) {
    *assignment.mutable_zero_cost() = spec.estimation().zero_cost();
  }
  if (IsEarlyStoppableKind(assignment.kind())) {
    // Early stopping: the worker saves its state at each rung, so that a
    // later attempt goes on from the last one instead of training again.
    for (int epoch :
         nas::spec::TrialRungEpochs(spec, assignment.trial_number())) {
      assignment.add_checkpoint_epochs(epoch);
    }
    assignment.set_resume(row["has_upload"].as<bool>());
  }
  return assignment;
}

absl::StatusOr<EpochAck> PostgresStore::RecordEpoch(
    const LeaseRef& ref, const nas::v1::EpochMetrics& metrics,
    absl::Duration lease) {
  absl::StatusOr<int64_t> micros = LeaseMicros(lease);
  if (!micros.ok()) return micros.status();
  return epochs_.Submit(EpochRequest{ref, metrics, *micros});
}

absl::StatusOr<EpochAck> PostgresStore::RefusedEpoch(
    const EpochRequest& request, bool may_retry) {
  return AnswerRefused<EpochAck>(
      pool_, request.ref, "epoch report", may_retry,
      [&](pqxx::transaction_base& tx) {
        return CheckRunningLease(tx, request.ref, "it takes no more epochs",
                                 RowLock::kNone);
      },
      [&] { return RecordEpochBatch({&request}, /*retry=*/false).front(); });
}

absl::StatusOr<Completion> PostgresStore::RefusedCompletion(
    const CompletionRequest& request, bool may_retry) {
  return AnswerRefused<Completion>(
      pool_, request.ref, "completion", may_retry,
      [&](pqxx::transaction_base& tx)
          -> absl::StatusOr<std::optional<Completion>> {
        absl::StatusOr<std::optional<LockedTrial>> running =
            CheckEnding(tx, request.ref, "COMPLETED", RowLock::kNone);
        if (!running.ok()) return running.status();
        if (running->has_value()) return std::nullopt;  // current after all
        return Completion{false, std::nullopt};         // a repeat
      },
      [&] { return CompleteTrialBatch({&request}, /*retry=*/false).front(); });
}

absl::StatusOr<EpochAck> PostgresStore::RenewLease(const LeaseRef& ref,
                                                   absl::Duration lease) {
  absl::StatusOr<int64_t> micros = LeaseMicros(lease);
  if (!micros.ok()) return micros.status();
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<EpochAck> {
    absl::StatusOr<std::optional<EpochAck>> ended = CheckRunningLease(
        tx, ref, "its lease cannot be renewed", RowLock::kForUpdate);
    if (!ended.ok()) return ended.status();
    if (ended->has_value()) return **ended;
    ExtendLease(tx, ref.trial_id, *micros);
    ExecPrepared0(tx, "UPDATE workers SET last_seen_at = now() WHERE id = $1",
                  ref.worker_id);
    tx.commit();
    return EpochAck{/*stop=*/false};
  });
}

absl::StatusOr<nas::v1::TrialState> PostgresStore::ReleaseTrial(
    const LeaseRef& ref, const std::string& reason) {
  using Result = absl::StatusOr<nas::v1::TrialState>;
  return pool_.Transact([&](pqxx::work& tx) -> Result {
    const pqxx::result rows = ExecPrepared(
        tx,
        "SELECT t.state, t.attempt, coalesce(t.worker_id, '') AS worker_id, "
        "s.max_attempts + t.promotions AS max_attempts FROM trials t "
        "JOIN searches s ON s.id = t.search_id WHERE t.id = $1 FOR UPDATE OF t",
        ref.trial_id);
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("trial ", ref.trial_id, " not found"));
    }
    const std::string state = rows[0]["state"].c_str();
    const int32_t attempt = rows[0]["attempt"].as<int32_t>();
    // A retried release: nobody has leased the trial since, so its attempt
    // is still ours and the release already happened.
    if (attempt == ref.attempt && state == "PENDING") {
      return nas::v1::TRIAL_STATE_PENDING;
    }
    if (attempt == ref.attempt && state == "FAILED" &&
        ref.worker_id == rows[0]["worker_id"].c_str()) {
      return nas::v1::TRIAL_STATE_FAILED;
    }
    absl::StatusOr<LockedTrial> locked = LockLease(tx, ref);
    if (!locked.ok()) return locked.status();
    if (locked->state != "RUNNING") {
      return absl::FailedPreconditionError(
          absl::StrCat("trial ", ref.trial_id, " is ", locked->state,
                       "; only a RUNNING trial can be released"));
    }
    const bool retry = attempt < rows[0]["max_attempts"].as<int32_t>();
    // Like an expired lease: PENDING has no worker, FAILED keeps the last.
    ExecPrepared0(
        tx,
        absl::StrCat(
            "UPDATE trials SET state = $2, ", AppendReason("$3"),
            ", lease_expires_at = NULL, "
            "worker_id = CASE WHEN $2::text = 'PENDING' THEN NULL ELSE "
            "worker_id END, finished_at = CASE WHEN $2::text = 'PENDING' "
            "THEN NULL ELSE now() "
            "END WHERE id = $1"),
        ref.trial_id, retry ? "PENDING" : "FAILED",
        ReasonLine(ref, absl::StrCat("worker fault: ", reason),
                   "worker fault"));
    tx.commit();
    return retry ? nas::v1::TRIAL_STATE_PENDING : nas::v1::TRIAL_STATE_FAILED;
  });
}

absl::StatusOr<bool> PostgresStore::FailTrial(const LeaseRef& ref,
                                              const std::string& reason) {
  return FinishTrial(ref, Ending::kFail, nullptr, reason);
}

absl::StatusOr<bool> PostgresStore::StopTrial(
    const LeaseRef& ref, const std::string& reason,
    const nas::v1::TrialMetrics& metrics, std::optional<int32_t> rung,
    bool paused) {
  return FinishTrial(ref, paused ? Ending::kPause : Ending::kStop, &metrics,
                     reason, rung);
}

absl::StatusOr<bool> PostgresStore::ResumePausedTrial(
    int64_t trial_id, const std::string& reason) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    // The search's row is only read: a search ending meanwhile commits
    // first (this then sees it ended) or waits for this trial's row lock
    // and cancels nothing, since STOPPED trials are not cancelled.
    const pqxx::result moved = ExecPrepared(
        tx,
        absl::StrCat(
            "UPDATE trials t SET state = 'PENDING', ", AppendReason("$2"),
            ", promotions = t.promotions + 1, worker_id = NULL, "
            "lease_expires_at = NULL, finished_at = NULL "
            "FROM searches s WHERE t.id = $1 AND s.id = t.search_id "
            "AND t.state = 'STOPPED' AND s.state = 'RUNNING' "
            "AND EXISTS (SELECT 1 FROM checkpoints k WHERE k.trial_id = t.id "
            "AND k.version = 0) RETURNING t.id"),
        trial_id, reason);
    tx.commit();
    return !moved.empty();
  });
}

absl::Status PostgresStore::SetTrialRung(const LeaseRef& ref, int32_t rung) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    absl::StatusOr<std::optional<EpochAck>> ended =
        CheckRunningLease(tx, ref, "its rung is final", RowLock::kForUpdate);
    if (!ended.ok()) return ended.status();
    if (ended->has_value()) return absl::OkStatus();  // ended meanwhile
    ExecPrepared0(tx, "UPDATE trials SET rung = $2 WHERE id = $1", ref.trial_id,
                  rung);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<EpochReport>> PostgresStore::ListEpochReports(
    int64_t search_id) {
  using Result = absl::StatusOr<std::vector<EpochReport>>;
  return pool_.Read([&](pqxx::transaction_base& tx) -> Result {
    const pqxx::result rows = ExecPrepared(
        tx, CurveQuery("t.number, t.kind, ", "t.search_id = $1"), search_id);
    std::vector<EpochReport> reports;
    reports.reserve(rows.size());
    for (const pqxx::row& row : rows) {
      EpochReport report;
      report.trial_id = row["trial_id"].as<int64_t>();
      report.trial_number = row["number"].as<int32_t>();
      report.kind = TrialKindFromName(row["kind"].c_str());
      report.metrics = EpochFromRow(row);
      reports.push_back(std::move(report));
    }
    return reports;
  });
}

absl::StatusOr<bool> PostgresStore::FinishTrial(
    const LeaseRef& ref, Ending ending, const nas::v1::TrialMetrics* metrics,
    const std::string& reason, std::optional<int32_t> rung) {
  const char* target = ending == Ending::kFail ? "FAILED" : "STOPPED";
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    absl::StatusOr<std::optional<LockedTrial>> trial =
        CheckEnding(tx, ref, target, RowLock::kForUpdate);
    if (!trial.ok()) return trial.status();
    if (!trial->has_value()) return false;  // already recorded
    if (ending == Ending::kStop || ending == Ending::kPause) {
      // What the last epoch measured: validation only; the trial never
      // reached its test evaluation.
      ExecPrepared0(
          tx,
          absl::StrCat("UPDATE trials SET state = 'STOPPED', ",
                       AppendReason("$2"),
                       ", val_accuracy = $3, val_loss = $4, "
                       "train_seconds = coalesce($5, (SELECT sum(c.seconds) "
                       "FROM (SELECT DISTINCT ON (epoch) seconds FROM "
                       "trial_epochs WHERE trial_id = $1 ORDER BY epoch, "
                       "attempt DESC) c)), rung = coalesce($6, rung), "
                       "lease_expires_at = NULL, finished_at = now() "
                       "WHERE id = $1"),
          ref.trial_id, ReasonLine(ref, reason, "stopped"),
          metrics->has_val_accuracy()
              ? std::optional(Float8(metrics->val_accuracy()))
              : std::nullopt,
          metrics->has_val_loss() ? std::optional(Float8(metrics->val_loss()))
                                  : std::nullopt,
          metrics->has_train_seconds()
              ? std::optional(Float8(metrics->train_seconds()))
              : std::nullopt,
          rung);
    } else {
      ExecPrepared0(
          tx,
          absl::StrCat("UPDATE trials SET state = $2, ", AppendReason("$3"),
                       ", lease_expires_at = NULL, finished_at = now() "
                       "WHERE id = $1"),
          ref.trial_id, target, ReasonLine(ref, reason, "failed"));
    }
    if (ending != Ending::kPause &&
        IsEarlyStoppableKind(TrialKindFromName((*trial)->kind))) {
      // Until they end, these trials upload only their training state for
      // resuming (early stopping); once one failed or stopped nothing
      // resumes it, so the bytes go. A paused one's stay for its promotion,
      // until its search ends. (Completions: CompleteTrialBatch.)
      ExecPrepared0(
          tx, "DELETE FROM checkpoints WHERE trial_id = $1 AND version = 0",
          ref.trial_id);
    }
    tx.commit();
    return true;
  });
}

absl::StatusOr<int> PostgresStore::ExpireLeases() {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    // Concurrent callers are safe: a row another caller changed first is
    // re-checked against the WHERE clause after its lock is released.
    const pqxx::result expired = tx.exec(
        "UPDATE trials t SET "
        "  state = CASE WHEN t.attempt < s.max_attempts + t.promotions "
        "               THEN 'PENDING' ELSE 'FAILED' END, "
        "  worker_id = CASE WHEN t.attempt < s.max_attempts + t.promotions "
        "                   THEN NULL ELSE t.worker_id END, "
        "  finished_at = CASE WHEN t.attempt < s.max_attempts + t.promotions "
        "                     THEN NULL ELSE now() END, "
        "  lease_expires_at = NULL, " +
        AppendReason("format('attempt %s on worker %s: lease expired', "
                     "t.attempt, t.worker_id)") +
        " FROM searches s "
        "WHERE s.id = t.search_id AND t.state = 'RUNNING' "
        "  AND t.lease_expires_at < now()");
    tx.commit();
    return static_cast<int>(expired.affected_rows());
  });
}

}  // namespace nas::controller
