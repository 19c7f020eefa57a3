// PostgresStore: the factory, searches, workers and shared loaders.
#include "controller/store/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/spec/estimation.h"
#include "controller/store/capability_tokens.h"
#include "controller/store/migrations.h"
#include "controller/store/pg_pool.h"
#include "controller/store/postgres_store_impl.h"
#include "controller/store/proto_rows.h"
#include "controller/store/store_rules.h"

namespace nas::controller {
namespace {

constexpr int kConnectTimeoutSeconds = 10;
constexpr int kDefaultParallelism = 1;
constexpr int kDefaultMaxAttempts = 3;

// libpq reports a refused login or a missing role or database like a lost
// connection (no SQLSTATE reaches the client before it is connected), so
// the message is all there is to go by.
bool IsPermanentConnectFailure(absl::string_view message) {
  for (absl::string_view pattern :
       {"password authentication failed", "no password supplied",
        "authentication failed", "no pg_hba.conf entry", "does not exist"}) {
    if (absl::StrContains(message, pattern)) return true;
  }
  return false;
}

// When a search ends, nothing resumes its trials, so the training states
// kept to resume them go: a paused trial's (promotion, StopTrial), and one
// left by a trial whose last lease expired. A COMPLETED trial's upload is
// its final network, kept to be exported.
constexpr char kDropResumeStates[] =
    "DELETE FROM checkpoints k USING trials t WHERE k.trial_id = t.id "
    "AND k.version = 0 AND t.search_id = $1 AND t.state <> 'COMPLETED'";

std::string SelectSearches(const char* where_and_order) {
  return absl::StrCat("SELECT ", kSearchColumns, " FROM searches s ",
                      where_and_order);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrialStore>> OpenPostgresStore(
    const PostgresStoreOptions& options) {
  if (options.database_url.empty()) {
    return absl::InvalidArgumentError("database_url is empty");
  }
  if (absl::Status s = CheckDatabaseUrl(options.database_url); !s.ok()) {
    return s;
  }
  auto store = std::make_unique<PostgresStore>(
      WithConnectTimeout(options.database_url, kConnectTimeoutSeconds),
      std::max(1, options.pool_size));
  absl::Status migrated = store->Migrate();
  if (!migrated.ok()) {
    // Say which database (never the password), and tell a refused login
    // or a missing database, which waiting does not fix, from an outage.
    // "connection lost" reads wrong for a connection never made.
    const std::string reason =
        WithoutPassword(options.database_url,
                        std::string(absl::StripPrefix(
                            migrated.message(), "database connection lost: ")));
    const std::string message =
        absl::StrCat("cannot open the database ",
                     RedactedDatabaseUrl(options.database_url), ": ", reason);
    if (absl::IsUnavailable(migrated) && IsPermanentConnectFailure(reason)) {
      return absl::FailedPreconditionError(message);
    }
    return absl::Status(migrated.code(), message);
  }
  return std::unique_ptr<TrialStore>(std::move(store));
}

absl::Status PostgresStore::Migrate() {
  return pool_.Run(
      [](pqxx::connection& c) -> absl::Status { return ApplyMigrations(c); });
}

absl::StatusOr<nas::v1::Search> LoadSearch(pqxx::transaction_base& tx,
                                           int64_t search_id, bool lock,
                                           bool counts) {
  const pqxx::result rows = ExecPrepared(
      tx,
      SelectSearches(lock ? "WHERE s.id = $1 FOR UPDATE" : "WHERE s.id = $1"),
      search_id);
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("search ", search_id, " not found"));
  }
  absl::StatusOr<nas::v1::Search> search = SearchFromRow(rows[0]);
  if (!search.ok() || !counts) return search;
  std::vector<nas::v1::Search> one = {*std::move(search)};
  LoadCounts(tx, &one);
  return std::move(one[0]);
}

void LoadEpochs(pqxx::transaction_base& tx,
                std::vector<nas::v1::Trial>* trials) {
  if (trials->empty()) return;
  std::vector<int64_t> ids;
  std::map<int64_t, nas::v1::Trial*> by_id;
  for (nas::v1::Trial& trial : *trials) {
    ids.push_back(trial.id());
    by_id[trial.id()] = &trial;
  }
  const pqxx::result rows = ExecPrepared(
      tx, CurveQuery("", "t.id = ANY($1::bigint[])"), Int64ArrayLiteral(ids));
  for (const pqxx::row& row : rows) {
    *by_id[row["trial_id"].as<int64_t>()]->add_epochs() = EpochFromRow(row);
  }
}

absl::StatusOr<nas::v1::Search> PostgresStore::CreateSearch(
    const nas::v1::SearchSpec& spec, const std::string& owner) {
  absl::StatusOr<RankingObjective> objective = RankingObjectiveOf(spec);
  if (!objective.ok()) return objective.status();
  absl::StatusOr<int> extra = CheckNewSearch(spec);
  if (!extra.ok()) return extra.status();
  const int extra_trials = *extra;
  absl::StatusOr<std::string> json = ToJson(spec);
  if (!json.ok()) return json.status();
  // Defaults documented in search.proto, so that leasing and expiry never
  // see a zero.
  const int parallelism = spec.budget().parallelism() > 0
                              ? spec.budget().parallelism()
                              : kDefaultParallelism;
  const int max_attempts = spec.budget().max_attempts() > 0
                               ? spec.budget().max_attempts()
                               : kDefaultMaxAttempts;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<nas::v1::Search> {
    const pqxx::row row = ExecPrepared1(
        tx,
        "INSERT INTO searches (name, spec, max_trials, parallelism, "
        "max_attempts, objective_metric, objective_direction, owner, "
        "extra_trials) "
        "VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        spec.name(), *json, spec.budget().max_trials(), parallelism,
        max_attempts, objective->metric, objective->direction, owner,
        extra_trials);
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, row[0].as<int64_t>(), /*lock=*/false);
    if (search.ok()) tx.commit();
    return search;
  });
}

absl::StatusOr<nas::v1::Search> PostgresStore::GetSearch(int64_t search_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<nas::v1::Search> {
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, search_id, /*lock=*/false, /*counts=*/false);
    if (!search.ok()) return search;
    std::vector<nas::v1::Search> one = {*std::move(search)};
    LoadCountsAndFoldIfMany(tx, &one);
    return std::move(one[0]);
  });
}

absl::StatusOr<nas::v1::Search> PostgresStore::GetSearchWithoutCounts(
    int64_t search_id) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<nas::v1::Search> {
        return LoadSearch(tx, search_id, /*lock=*/false, /*counts=*/false);
      });
}

absl::StatusOr<std::vector<nas::v1::Search>> PostgresStore::ListSearches(
    int64_t before_id, int limit, const SearchFilter& filter) {
  if (limit <= 0) return std::vector<nas::v1::Search>();
  std::vector<std::string> states;
  for (nas::v1::SearchState state : filter.states) {
    states.push_back(SearchStateName(state));
  }
  return pool_.Transact(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<nas::v1::Search>> {
        // strpos, not LIKE: the name is matched literally, '%' and '_'
        // included.
        const pqxx::result rows = ExecPrepared(
            tx,
            SelectSearches("WHERE ($1::bigint = 0 OR s.id < $1::bigint) "
                           "AND ($3::text IS NULL OR s.owner = $3::text) "
                           "AND (cardinality($4::text[]) = 0 "
                           "     OR s.state = ANY($4::text[])) "
                           "AND strpos(s.name, $5::text) > 0 "
                           "AND ($6::boolean OR s.archived_at IS NULL) "
                           "ORDER BY s.id DESC LIMIT $2"),
            before_id, limit, filter.owner ? filter.owner->c_str() : nullptr,
            TextArrayLiteral(states), filter.name, filter.include_archived);
        std::vector<nas::v1::Search> searches;
        for (const pqxx::row& row : rows) {
          absl::StatusOr<nas::v1::Search> search = SearchFromRow(row);
          if (!search.ok()) return search.status();
          searches.push_back(*std::move(search));
        }
        LoadCountsAndFoldIfMany(tx, &searches);
        return searches;
      });
}

absl::StatusOr<std::vector<int64_t>> PostgresStore::ListRunningSearchIds() {
  return pool_.Read(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<int64_t>> {
        const pqxx::result rows = tx.exec(
            "SELECT id FROM searches WHERE state = 'RUNNING' ORDER BY id");
        std::vector<int64_t> ids;
        for (const pqxx::row& row : rows) ids.push_back(row[0].as<int64_t>());
        return ids;
      });
}

absl::StatusOr<nas::v1::Search> PostgresStore::CancelSearch(int64_t search_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<nas::v1::Search> {
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, search_id, /*lock=*/true);
    if (!search.ok()) return search;
    if (search->state() != nas::v1::SEARCH_STATE_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id, " is ", SearchStateName(search->state()),
          "; only a RUNNING search can be cancelled"));
    }
    ExecPrepared0(
        tx,
        "UPDATE searches SET state = 'CANCELLED', finished_at = now() "
        "WHERE id = $1",
        search_id);
    // RUNNING trials keep worker_id and attempt, so that the worker's
    // next report matches its lease and is told to stop.
    ExecPrepared0(
        tx,
        "UPDATE trials SET state = 'CANCELLED', finished_at = now(), "
        "lease_expires_at = NULL, "
        "reason = CASE WHEN reason = '' THEN 'cancelled with its search' "
        "ELSE reason || E'\\n' || 'cancelled with its search' END "
        "WHERE search_id = $1 AND state IN ('PENDING', 'RUNNING')",
        search_id);
    ExecPrepared0(tx, kDropResumeStates, search_id);
    search = LoadSearch(tx, search_id, /*lock=*/false);
    if (search.ok()) tx.commit();
    return search;
  });
}

absl::StatusOr<bool> PostgresStore::CompleteSearchIfDone(int64_t search_id) {
  // Called after every trial that ends, so it must not cost the history:
  // while any trial is open the search is not done, which the open-trials
  // index answers without a lock, for all the searches asked about at once
  // (CompleteSearchBatch). The last trial to end commits before it gets
  // here, so it always sees none open and takes the locked path.
  return search_checks_.Submit(search_id);
}

absl::StatusOr<bool> PostgresStore::CompleteSearchLocked(int64_t search_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    const pqxx::result search =
        ExecPrepared(tx,
                     "SELECT state, max_trials + extra_trials AS total_trials "
                     "FROM searches WHERE id = $1 FOR UPDATE",
                     search_id);
    if (search.empty()) {
      return absl::NotFoundError(
          absl::StrCat("search ", search_id, " not found"));
    }
    if (std::string(search[0]["state"].c_str()) != "RUNNING") return false;
    // Numbers run from 0 without gaps (AddTrials), so the highest one says
    // how many trials there are: one step down the (search_id, number)
    // index, where count(*) would read the whole history under the lock
    // that AddTrials waits for.
    const pqxx::row counts =
        ExecPrepared1(tx,
                      "SELECT (SELECT coalesce(max(number) + 1, 0) FROM trials "
                      "WHERE search_id = $1) AS total, "
                      "EXISTS (SELECT 1 FROM trials WHERE search_id = $1 "
                      "AND state IN ('PENDING', 'RUNNING')) AS open",
                      search_id);
    if (counts["total"].as<int64_t>() <
            search[0]["total_trials"].as<int64_t>() ||
        counts["open"].as<bool>()) {
      return false;
    }
    ExecPrepared0(
        tx,
        "UPDATE searches SET state = 'COMPLETED', finished_at = now() "
        "WHERE id = $1",
        search_id);
    ExecPrepared0(tx, kDropResumeStates, search_id);
    tx.commit();
    return true;
  });
}

absl::StatusOr<bool> PostgresStore::EndSearch(int64_t search_id,
                                              nas::v1::SearchState state,
                                              const std::string& reason) {
  if (absl::Status ok = CheckEndState(state); !ok.ok()) return ok;
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    const pqxx::result search = ExecPrepared(
        tx, "SELECT state FROM searches WHERE id = $1 FOR UPDATE", search_id);
    if (search.empty()) {
      return absl::NotFoundError(
          absl::StrCat("search ", search_id, " not found"));
    }
    if (std::string(search[0]["state"].c_str()) != "RUNNING") return false;
    ExecPrepared0(tx,
                  "UPDATE searches SET state = $2, state_reason = $3, "
                  "finished_at = now() WHERE id = $1",
                  search_id, SearchStateName(state), reason);
    ExecPrepared0(tx,
                  "UPDATE trials SET state = 'CANCELLED', finished_at = now(), "
                  "reason = 'search ended before this trial ran' "
                  "WHERE search_id = $1 AND state = 'PENDING'",
                  search_id);
    ExecPrepared0(tx, kDropResumeStates, search_id);
    tx.commit();
    return true;
  });
}

absl::StatusOr<std::string> PostgresStore::RegisterWorker(
    const nas::v1::RegisterWorkerRequest& worker) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    // NULL capabilities: the worker declared none and is offered
    // everything.
    std::optional<std::string> caps;
    if (worker.has_capabilities()) {
      caps = TextArrayLiteral(CapabilityTokens(worker.capabilities()));
    }
    const pqxx::row row = ExecPrepared1(
        tx,
        "INSERT INTO workers (host, device_type, device_name, "
        "device_memory_bytes, name, estimator, capabilities) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::text[]) RETURNING id",
        worker.host(), DeviceTypeName(worker.device_type()),
        worker.device_name(), worker.device_memory_bytes(),
        worker.name().empty() ? worker.host() : worker.name(),
        worker.capabilities().estimator(), caps ? caps->c_str() : nullptr);
    std::string id = row[0].c_str();
    tx.commit();
    return id;
  });
}

absl::Status PostgresStore::TouchWorker(const std::string& worker_id) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result updated = ExecPrepared(
        tx, "UPDATE workers SET last_seen_at = now() WHERE id = $1", worker_id);
    if (updated.affected_rows() == 0) {
      return absl::NotFoundError(
          absl::StrCat("worker ", worker_id, " is not registered"));
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<LiveWorker>> PostgresStore::ListLiveWorkers(
    absl::Duration within) {
  return pool_.Read(
      [&](pqxx::transaction_base& tx)
          -> absl::StatusOr<std::vector<LiveWorker>> {
        const pqxx::result rows = ExecPrepared(
            tx,
            "SELECT id, name, estimator, capabilities IS NULL AS undeclared, "
            "coalesce(array_to_string(capabilities, ' '), '') AS caps "
            "FROM workers "
            "WHERE last_seen_at > now() - $1 * interval '1 microsecond' "
            "ORDER BY id",
            absl::ToInt64Microseconds(within));
        std::vector<LiveWorker> workers;
        for (const pqxx::row& row : rows) {
          LiveWorker w;
          w.id = row["id"].c_str();
          w.name = row["name"].c_str();
          w.estimator = row["estimator"].c_str();
          if (!row["undeclared"].as<bool>()) {
            // Tokens never contain spaces: "<space>:<DATASET_ENUM>:<KIND>".
            w.capabilities = std::vector<std::string>(
                absl::StrSplit(row["caps"].c_str(), ' ', absl::SkipEmpty()));
          }
          workers.push_back(std::move(w));
        }
        return workers;
      });
}

absl::StatusOr<bool> PostgresStore::SetRunningSearchReason(
    int64_t search_id, const std::string& reason) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    const pqxx::result rows = ExecPrepared(
        tx, "SELECT state FROM searches WHERE id = $1 FOR UPDATE", search_id);
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("search ", search_id, " not found"));
    }
    if (std::string(rows[0]["state"].c_str()) != "RUNNING") return false;
    ExecPrepared0(tx, "UPDATE searches SET state_reason = $2 WHERE id = $1",
                  search_id, reason);
    tx.commit();
    return true;
  });
}

}  // namespace nas::controller
