#include "controller/checkpoints/postgres_checkpoint_store.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/hash/sha256.h"
#include "controller/checkpoints/checkpoint_rules.h"
#include "controller/store/pg_checks.h"
#include "controller/store/pg_pool.h"

namespace nas::controller {
namespace {

constexpr int kConnectTimeoutSeconds = 10;
// Chunks fetched per query when reading: bounds the memory of one result
// (bytea arrives hex-encoded, twice its size) while keeping round trips few.
constexpr int kChunksPerRead = 16;

// What InfoFromRow reads, from checkpoints.
constexpr char kInfoColumns[] =
    "id, search_id, version, coalesce(parent_version, 0) AS parent_version, "
    "coalesce(trial_id, 0) AS trial_id, coalesce(attempt, 0) AS attempt, "
    "array_to_string(merged_trial_ids, ',') AS merged_trial_ids, "
    "merge_weight, size, sha256, "
    "(extract(epoch FROM created_at) * 1000000)::bigint AS created_us";

// A checkpoints row: its info and the id its chunks are stored under.
struct StoredCheckpoint {
  int64_t id = 0;
  CheckpointInfo info;
};

StoredCheckpoint FromRow(const pqxx::row& row) {
  StoredCheckpoint stored;
  stored.id = row["id"].as<int64_t>();
  CheckpointInfo& info = stored.info;
  info.search_id = row["search_id"].as<int64_t>();
  info.version = row["version"].as<int64_t>();
  info.parent_version = row["parent_version"].as<int64_t>();
  info.trial_id = row["trial_id"].as<int64_t>();
  info.attempt = row["attempt"].as<int32_t>();
  for (absl::string_view id : absl::StrSplit(row["merged_trial_ids"].c_str(),
                                             ',', absl::SkipEmpty())) {
    int64_t value = 0;
    if (absl::SimpleAtoi(id, &value)) info.merged_trial_ids.push_back(value);
  }
  info.merge_weight = row["merge_weight"].as<double>();
  info.size = row["size"].as<int64_t>();
  info.sha256 = row["sha256"].c_str();
  info.created_at = absl::FromUnixMicros(row["created_us"].as<int64_t>());
  return stored;
}

// The checkpoints row `where` selects (with parameters `args`); nullopt
// when there is none.
template <typename... Args>
std::optional<StoredCheckpoint> SelectOne(pqxx::work& tx,
                                          const std::string& where,
                                          const Args&... args) {
  const pqxx::result rows = tx.exec_params(
      absl::StrCat("SELECT ", kInfoColumns, " FROM checkpoints WHERE ", where),
      args...);
  if (rows.empty()) return std::nullopt;
  return FromRow(rows[0]);
}

// Stores `bytes` as chunks of kCheckpointChunkBytes under checkpoint_id.
void WriteChunks(pqxx::work& tx, int64_t checkpoint_id,
                 const std::string& bytes) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  int seq = 0;
  for (int64_t offset = 0; offset < size;
       offset += kCheckpointChunkBytes, ++seq) {
    const int64_t length = std::min(kCheckpointChunkBytes, size - offset);
    tx.exec_params(
        "INSERT INTO checkpoint_chunks (checkpoint_id, seq, data) "
        "VALUES ($1, $2, $3)",
        checkpoint_id, seq,
        pqxx::binarystring(bytes.data() + offset, static_cast<size_t>(length)));
  }
}

// The bytes of `stored`, checked against its size and SHA-256. `what`
// names it in messages ("search 3 supernet version 2").
absl::StatusOr<std::string> ReadChunks(pqxx::work& tx,
                                       const StoredCheckpoint& stored,
                                       const std::string& what) {
  std::string bytes;
  bytes.reserve(static_cast<size_t>(stored.info.size));
  hash::Sha256 digest;
  int expected_seq = 0;
  for (;;) {
    const pqxx::result rows = tx.exec_params(
        "SELECT seq, data FROM checkpoint_chunks WHERE checkpoint_id = $1 "
        "AND seq >= $2 ORDER BY seq LIMIT $3",
        stored.id, expected_seq, kChunksPerRead);
    for (const pqxx::row& row : rows) {
      if (row["seq"].as<int>() != expected_seq) {
        return absl::DataLossError(absl::StrCat(
            what, ": chunk ", expected_seq, " is missing from the database"));
      }
      const pqxx::binarystring data(row["data"]);
      const std::string_view view(reinterpret_cast<const char*>(data.data()),
                                  data.size());
      digest.Update(view);
      bytes.append(view);
      ++expected_seq;
    }
    if (rows.size() < static_cast<size_t>(kChunksPerRead)) break;
  }
  const std::string actual = digest.FinishHex();
  if (static_cast<int64_t>(bytes.size()) != stored.info.size ||
      actual != stored.info.sha256) {
    return absl::DataLossError(absl::StrCat(
        what, " is corrupt in the database: expected ", stored.info.size,
        " bytes with sha256 ", stored.info.sha256, ", read ", bytes.size(),
        " bytes with sha256 ", actual));
  }
  return bytes;
}

// Reads run in one REPEATABLE READ snapshot, so that a trial upload
// replaced meanwhile is read whole, as it was.
void BeginSnapshot(pqxx::work& tx) {
  tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

std::string VersionName(int64_t search_id, int64_t version) {
  return absl::StrCat("search ", search_id, " supernet version ", version);
}

class PostgresCheckpointStore final : public CheckpointStore {
 public:
  PostgresCheckpointStore(const std::string& url, int pool_size)
      : pool_(url, pool_size) {}

  DatabaseStats database_stats() const override { return pool_.stats(); }

  // OK when the database has the checkpoint tables (migration 9).
  absl::Status CheckSchema() {
    return pool_.Transact([](pqxx::work& tx) -> absl::Status {
      if (tx.exec1("SELECT to_regclass('checkpoint_chunks') IS NULL")[0]
              .as<bool>()) {
        return absl::FailedPreconditionError(
            "the database has no checkpoint tables (schema migration 9); "
            "open it with the trial store first, which migrates it");
      }
      return absl::OkStatus();
    });
  }

  absl::Status PutTrialUpload(const LeaseRef& ref, double merge_weight,
                              const std::string& sha256,
                              const std::string& bytes) override {
    if (absl::Status s = CheckTrialUpload(ref, merge_weight, sha256, bytes);
        !s.ok()) {
      return s;
    }
    return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      const pqxx::result rows = tx.exec_params(
          "SELECT search_id, state, attempt, coalesce(worker_id, '') "
          "FROM trials WHERE id = $1 FOR UPDATE",
          ref.trial_id);
      if (rows.empty()) {
        return absl::NotFoundError(
            absl::StrCat("trial ", ref.trial_id, " not found"));
      }
      const int64_t search_id = rows[0][0].as<int64_t>();
      const std::string state = rows[0][1].c_str();
      const int32_t attempt = rows[0][2].as<int32_t>();
      const std::string worker_id = rows[0][3].c_str();
      if (attempt != ref.attempt || worker_id != ref.worker_id ||
          state != "RUNNING") {
        return absl::FailedPreconditionError(absl::StrCat(
            "trial ", ref.trial_id, ": lease attempt ", ref.attempt,
            " of worker ", ref.worker_id,
            " is not current; the current attempt is ", attempt, " (", state,
            worker_id.empty() ? "" : absl::StrCat(" on worker ", worker_id),
            ")"));
      }
      tx.exec_params("DELETE FROM checkpoints WHERE trial_id = $1",
                     ref.trial_id);
      const int64_t id =
          tx.exec_params1(
                "INSERT INTO checkpoints (search_id, version, trial_id, "
                "attempt, merge_weight, size, sha256) "
                "VALUES ($1, 0, $2, $3, $4, $5, $6) RETURNING id",
                search_id, ref.trial_id, ref.attempt, merge_weight,
                static_cast<int64_t>(bytes.size()), sha256)[0]
              .as<int64_t>();
      WriteChunks(tx, id, bytes);
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<CheckpointInfo> TrialUploadInfo(int64_t trial_id) override {
    return pool_.Transact(
        [&](pqxx::work& tx) -> absl::StatusOr<CheckpointInfo> {
          std::optional<StoredCheckpoint> stored =
              SelectOne(tx, "trial_id = $1", trial_id);
          if (!stored) return NoUpload(trial_id);
          return stored->info;
        });
  }

  absl::StatusOr<std::string> ReadTrialUpload(int64_t trial_id) override {
    return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
      BeginSnapshot(tx);
      std::optional<StoredCheckpoint> stored =
          SelectOne(tx, "trial_id = $1", trial_id);
      if (!stored) return NoUpload(trial_id);
      return ReadChunks(tx, *stored,
                        absl::StrCat("the upload of trial ", trial_id));
    });
  }

  absl::Status PutSupernetVersion(int64_t search_id, int64_t version,
                                  int64_t parent_version,
                                  const std::vector<int64_t>& merged_trial_ids,
                                  const std::string& bytes) override {
    if (version < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("version: must be >= 1, got ", version));
    }
    if (parent_version < 0 || parent_version >= version) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent_version: must be in [0, ", version, "), got ",
                       parent_version));
    }
    const std::set<int64_t> distinct(merged_trial_ids.begin(),
                                     merged_trial_ids.end());
    if (distinct.size() != merged_trial_ids.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("merged_trial_ids: a trial is listed twice: ",
                       absl::StrJoin(merged_trial_ids, ",")));
    }
    const std::string ids =
        absl::StrCat("{", absl::StrJoin(merged_trial_ids, ","), "}");
    const std::string sha256 = hash::Sha256Hex(bytes);
    return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      if (absl::Status s = CheckSearchExists(tx, search_id); !s.ok()) return s;
      const int64_t latest = Latest(tx, search_id);
      if (version <= latest) {
        return absl::AlreadyExistsError(
            absl::StrCat(VersionName(search_id, version),
                         " is already stored (the latest is ", latest, ")"));
      }
      if (version != latest + 1) {
        return absl::FailedPreconditionError(
            absl::StrCat(VersionName(search_id, version),
                         " would leave a gap: the latest is ", latest,
                         ", so the next is ", latest + 1));
      }
      const int64_t found =
          tx.exec_params1(
                "SELECT count(*) FROM trials WHERE search_id = $1 "
                "AND id = ANY($2::bigint[])",
                search_id, ids)[0]
              .as<int64_t>();
      if (found != static_cast<int64_t>(distinct.size())) {
        return absl::NotFoundError(absl::StrCat("merged_trial_ids: not all of ",
                                                ids, " are trials of search ",
                                                search_id));
      }
      // A replica storing the same version concurrently makes this insert
      // wait and then fail with a unique violation: AlreadyExists.
      const int64_t id =
          tx.exec_params1(
                "INSERT INTO checkpoints (search_id, version, parent_version, "
                "merged_trial_ids, size, sha256) "
                "VALUES ($1, $2, $3, $4::bigint[], $5, $6) RETURNING id",
                search_id, version, parent_version, ids,
                static_cast<int64_t>(bytes.size()), sha256)[0]
              .as<int64_t>();
      WriteChunks(tx, id, bytes);
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> LatestSupernetVersion(int64_t search_id) override {
    return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
      if (absl::Status s = CheckSearchExists(tx, search_id); !s.ok()) return s;
      return Latest(tx, search_id);
    });
  }

  absl::StatusOr<CheckpointInfo> SupernetVersionInfo(int64_t search_id,
                                                     int64_t version) override {
    return pool_.Transact(
        [&](pqxx::work& tx) -> absl::StatusOr<CheckpointInfo> {
          absl::StatusOr<StoredCheckpoint> stored =
              FindVersion(tx, search_id, version);
          if (!stored.ok()) return stored.status();
          return stored->info;
        });
  }

  absl::StatusOr<std::string> ReadSupernetVersion(int64_t search_id,
                                                  int64_t version) override {
    return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
      BeginSnapshot(tx);
      absl::StatusOr<StoredCheckpoint> stored =
          FindVersion(tx, search_id, version);
      if (!stored.ok()) return stored.status();
      return ReadChunks(tx, *stored, VersionName(search_id, version));
    });
  }

 private:
  static absl::Status NoUpload(int64_t trial_id) {
    return absl::NotFoundError(
        absl::StrCat("trial ", trial_id, " has no uploaded checkpoint"));
  }

  static int64_t Latest(pqxx::work& tx, int64_t search_id) {
    return tx
        .exec_params1(
            "SELECT coalesce(max(version), 0) FROM checkpoints "
            "WHERE search_id = $1 AND version > 0",
            search_id)[0]
        .as<int64_t>();
  }

  // NotFound names an unknown search or a missing version.
  static absl::StatusOr<StoredCheckpoint> FindVersion(pqxx::work& tx,
                                                      int64_t search_id,
                                                      int64_t version) {
    if (version >= 1) {
      std::optional<StoredCheckpoint> stored =
          SelectOne(tx, "search_id = $1 AND version = $2", search_id, version);
      if (stored) return *std::move(stored);
    }
    if (absl::Status s = CheckSearchExists(tx, search_id); !s.ok()) return s;
    return absl::NotFoundError(absl::StrCat(VersionName(search_id, version),
                                            " not found (the latest is ",
                                            Latest(tx, search_id), ")"));
  }

  PgPool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> OpenPostgresCheckpointStore(
    const PostgresCheckpointStoreOptions& options) {
  if (options.database_url.empty()) {
    return absl::InvalidArgumentError("database_url is empty");
  }
  if (absl::Status s = CheckDatabaseUrl(options.database_url); !s.ok()) {
    return s;
  }
  auto store = std::make_unique<PostgresCheckpointStore>(
      WithConnectTimeout(options.database_url, kConnectTimeoutSeconds),
      std::max(1, options.pool_size));
  if (absl::Status s = store->CheckSchema(); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("checkpoint store: cannot use the database ",
                               RedactedDatabaseUrl(options.database_url), ": ",
                               WithoutPassword(options.database_url,
                                               std::string(s.message()))));
  }
  return std::unique_ptr<CheckpointStore>(std::move(store));
}

}  // namespace nas::controller
