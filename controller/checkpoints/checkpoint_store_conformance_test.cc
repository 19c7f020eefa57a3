// Every CheckpointStore (PostgreSQL against a real server, MemoryStore):
// fencing of trial uploads, gapless supernet versions, checksums on read and
// cascades; and how PostgreSQL lays the bytes out (chunks, the
// checkpoint_lineage view).
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "controller/checkpoints/postgres_checkpoint_store.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

constexpr absl::Duration kLongLease = absl::Minutes(30);

// `size` bytes that differ with `seed`, so that a mixed-up chunk shows.
std::string Bytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

class CheckpointStoreTest : public AnyStoreTest {
 protected:
  // Uploads `bytes` under the lease of `a`.
  absl::Status Upload(const nas::v1::TrialAssignment& a,
                      const std::string& worker, const std::string& bytes,
                      double merge_weight = 1) {
    return checkpoints().PutTrialUpload(Ref(a, worker), merge_weight,
                                        hash::Sha256Hex(bytes), bytes);
  }

  // Expects `n` rows in `relation`; a MemoryStore has no rows to count.
  void ExpectRows(const std::string& relation, int n) {
    if (!postgres()) return;
    EXPECT_EQ(db().Query("SELECT count(*) FROM " + relation)[0][0].as<int>(), n)
        << relation;
  }
};
INSTANTIATE_FOR_EVERY_STORE(CheckpointStoreTest);

// How the bytes lie in the database, and what corrupting them does.
using PostgresCheckpointStoreTest = CheckpointStoreTest;
INSTANTIATE_TEST_SUITE_P(, PostgresCheckpointStoreTest,
                         ::testing::Values(StoreBackend::kPostgres),
                         BackendName);

TEST_P(CheckpointStoreTest, TrialUploadRoundTrips) {
  const int64_t search = NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const std::string bytes = Bytes(1000, 1);
  ASSERT_TRUE(Upload(a, "w-1", bytes, 2560).ok());

  absl::StatusOr<CheckpointInfo> info =
      checkpoints().TrialUploadInfo(a.trial_id());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->search_id, search);
  EXPECT_EQ(info->version, 0);
  EXPECT_EQ(info->trial_id, a.trial_id());
  EXPECT_EQ(info->attempt, 1);
  EXPECT_EQ(info->merge_weight, 2560);
  EXPECT_EQ(info->size, 1000);
  EXPECT_EQ(info->sha256, hash::Sha256Hex(bytes));
  EXPECT_TRUE(info->merged_trial_ids.empty());
  EXPECT_LT(absl::AbsDuration(StoreNow() - info->created_at), absl::Minutes(5));

  absl::StatusOr<std::string> read =
      checkpoints().ReadTrialUpload(a.trial_id());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
}

TEST_P(CheckpointStoreTest, LaterUploadOfATrialReplacesTheEarlier) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  ASSERT_TRUE(Upload(a, "w-1", Bytes(3 << 20, 1)).ok());
  const std::string second = Bytes(100, 2);
  ASSERT_TRUE(Upload(a, "w-1", second).ok());
  EXPECT_EQ(*checkpoints().ReadTrialUpload(a.trial_id()), second);
  ExpectRows("checkpoints", 1);
  ExpectRows("checkpoint_chunks", 1);
}

TEST_P(CheckpointStoreTest, WrongChecksumIsDataLossAndStoresNothing) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const std::string bytes = Bytes(100, 1);
  const absl::Status status = checkpoints().PutTrialUpload(
      Ref(a, "w-1"), 1, hash::Sha256Hex(Bytes(100, 2)), bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(hash::Sha256Hex(bytes)), std::string::npos)
      << status;
  ExpectRows("checkpoints", 0);
  EXPECT_EQ(checkpoints().TrialUploadInfo(a.trial_id()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(CheckpointStoreTest, OnlyTheCurrentLeaseMayUpload) {
  // A RETRAIN trial: its weights are kept once it completed.
  auto search = store().CreateSearch(Spec("retrain", 1, 3), "");
  ASSERT_TRUE(search.ok()) << search.status();
  NewTrial retrain = Trial(0);
  retrain.kind = nas::v1::TRIAL_KIND_RETRAIN;
  ASSERT_TRUE(store().AddTrials(search->id(), 0, {retrain}).ok());
  const nas::v1::TrialAssignment first = Lease("w-1", kLongLease);
  // The worker's fault: the trial goes back to PENDING and to another lease.
  ASSERT_TRUE(store().ReleaseTrial(Ref(first, "w-1"), "gone").ok());
  const std::string bytes = Bytes(100, 1);
  // PENDING: nobody holds it.
  EXPECT_EQ(Upload(first, "w-1", bytes).code(),
            absl::StatusCode::kFailedPrecondition);
  const nas::v1::TrialAssignment second = Lease("w-2", kLongLease);
  ASSERT_EQ(second.trial_id(), first.trial_id());
  ASSERT_EQ(second.attempt(), 2);

  const absl::Status stale = Upload(first, "w-1", bytes);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_NE(stale.message().find("current attempt is 2"), std::string::npos)
      << stale;
  // The right attempt from the wrong worker.
  EXPECT_EQ(Upload(second, "w-1", bytes).code(),
            absl::StatusCode::kFailedPrecondition);
  ExpectRows("checkpoints", 0);

  ASSERT_TRUE(Upload(second, "w-2", bytes).ok());
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.5);
  ASSERT_TRUE(store().CompleteTrial(Ref(second, "w-2"), metrics).ok());
  // A finished trial's upload never changes.
  EXPECT_EQ(Upload(second, "w-2", Bytes(100, 2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*checkpoints().ReadTrialUpload(second.trial_id()), bytes);

  LeaseRef unknown{"w-2", 999999, 1};
  EXPECT_EQ(checkpoints()
                .PutTrialUpload(unknown, 1, hash::Sha256Hex(bytes), bytes)
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_P(CheckpointStoreTest, SupernetVersionsHaveNoGaps) {
  const int64_t search = NewSearch(4, 4);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w-1", kLongLease);
  absl::StatusOr<int64_t> latest = checkpoints().LatestSupernetVersion(search);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, 0);

  EXPECT_EQ(
      checkpoints().PutSupernetVersion(search, 2, 1, {}, Bytes(10, 1)).code(),
      absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      checkpoints().PutSupernetVersion(search, 1, 0, {}, Bytes(10, 1)).ok());
  const absl::Status gap =
      checkpoints().PutSupernetVersion(search, 3, 2, {}, Bytes(10, 3));
  EXPECT_EQ(gap.code(), absl::StatusCode::kFailedPrecondition) << gap;
  EXPECT_NE(gap.message().find("the next is 2"), std::string::npos) << gap;
  const std::string v2 = Bytes(20, 2);
  ASSERT_TRUE(
      checkpoints()
          .PutSupernetVersion(search, 2, 1, {b.trial_id(), a.trial_id()}, v2)
          .ok());
  EXPECT_EQ(*checkpoints().LatestSupernetVersion(search), 2);

  absl::StatusOr<CheckpointInfo> info =
      checkpoints().SupernetVersionInfo(search, 2);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->search_id, search);
  EXPECT_EQ(info->version, 2);
  EXPECT_EQ(info->parent_version, 1);
  EXPECT_EQ(info->merged_trial_ids,
            (std::vector<int64_t>{b.trial_id(), a.trial_id()}));
  EXPECT_EQ(info->trial_id, 0);
  EXPECT_EQ(info->size, 20);
  EXPECT_EQ(info->sha256, hash::Sha256Hex(v2));
  EXPECT_EQ(*checkpoints().ReadSupernetVersion(search, 2), v2);

  // Versions of another search count apart.
  const int64_t other = NewSearch(1, 0);
  EXPECT_EQ(*checkpoints().LatestSupernetVersion(other), 0);
  EXPECT_TRUE(
      checkpoints().PutSupernetVersion(other, 1, 0, {}, Bytes(10, 4)).ok());
}

TEST_P(CheckpointStoreTest, DuplicateVersionIsAlreadyExistsAndChangesNothing) {
  const int64_t search = NewSearch(1, 0);
  const std::string first = Bytes(100, 1);
  ASSERT_TRUE(checkpoints().PutSupernetVersion(search, 1, 0, {}, first).ok());
  EXPECT_EQ(
      checkpoints().PutSupernetVersion(search, 1, 0, {}, Bytes(100, 2)).code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*checkpoints().ReadSupernetVersion(search, 1), first);
  ExpectRows("checkpoints", 1);
}

// Two replicas merging the same round: exactly one stores it.
TEST_P(CheckpointStoreTest, ConcurrentPutsOfOneVersionStoreItOnce) {
  const int64_t search = NewSearch(1, 0);
  constexpr int kWriters = 4;
  CheckpointStore* replicas[2] = {&checkpoints(), &ReplicaCheckpoints()};
  std::vector<absl::Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      results[i] = replicas[i % 2]->PutSupernetVersion(search, 1, 0, {},
                                                       Bytes(2 << 20, i));
    });
  }
  for (std::thread& thread : threads) thread.join();
  int stored = 0;
  for (const absl::Status& status : results) {
    if (status.ok()) {
      ++stored;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
    }
  }
  EXPECT_EQ(stored, 1);
  ExpectRows("checkpoints", 1);
  ExpectRows("checkpoint_chunks", 2);
  EXPECT_TRUE(checkpoints().ReadSupernetVersion(search, 1).ok());
}

TEST_P(CheckpointStoreTest, BadVersionArgumentsAreRefused) {
  const int64_t search = NewSearch(1, 0);
  EXPECT_EQ(checkpoints().PutSupernetVersion(search, 0, 0, {}, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checkpoints().PutSupernetVersion(search, 1, 1, {}, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checkpoints().PutSupernetVersion(search, 1, -1, {}, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checkpoints().PutSupernetVersion(999999, 1, 0, {}, "x").code(),
            absl::StatusCode::kNotFound);
  // Merged trials must be this search's.
  const int64_t other = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  ASSERT_EQ(a.search_id(), other);
  EXPECT_EQ(checkpoints()
                .PutSupernetVersion(search, 1, 0, {a.trial_id()}, "x")
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      checkpoints()
          .PutSupernetVersion(other, 1, 0, {a.trial_id(), a.trial_id()}, "x")
          .code(),
      absl::StatusCode::kInvalidArgument);
  ExpectRows("checkpoints", 0);
}

TEST_P(CheckpointStoreTest, UnknownThingsAreNotFound) {
  const int64_t search = NewSearch(1, 1);
  for (int64_t version : {-1, 0, 1, 7}) {
    EXPECT_EQ(
        checkpoints().SupernetVersionInfo(search, version).status().code(),
        absl::StatusCode::kNotFound)
        << version;
    EXPECT_EQ(
        checkpoints().ReadSupernetVersion(search, version).status().code(),
        absl::StatusCode::kNotFound)
        << version;
  }
  EXPECT_EQ(checkpoints().LatestSupernetVersion(999999).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(checkpoints().ReadSupernetVersion(999999, 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(checkpoints().ReadTrialUpload(999999).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(PostgresCheckpointStoreTest, BigCheckpointRoundTripsInMebibyteChunks) {
  const int64_t search = NewSearch(1, 0);
  const std::string bytes = Bytes((3 << 20) + 12345, 7);
  ASSERT_TRUE(checkpoints().PutSupernetVersion(search, 1, 0, {}, bytes).ok());
  EXPECT_EQ(
      db().Query("SELECT string_agg(length(data)::text, ',' ORDER BY seq) "
                 "FROM checkpoint_chunks")[0][0]
          .as<std::string>(),
      "1048576,1048576,1048576,12345");
  absl::StatusOr<std::string> read =
      checkpoints().ReadSupernetVersion(search, 1);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == bytes) << "read back " << read->size() << " bytes";
  EXPECT_EQ(checkpoints().SupernetVersionInfo(search, 1)->size,
            static_cast<int64_t>(bytes.size()));
}

TEST_P(PostgresCheckpointStoreTest,
       ChunkCorruptedInTheDatabaseReadsAsDataLoss) {
  const int64_t search = NewSearch(1, 1);
  const std::string bytes = Bytes((2 << 20) + 10, 3);
  ASSERT_TRUE(checkpoints().PutSupernetVersion(search, 1, 0, {}, bytes).ok());
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  ASSERT_TRUE(Upload(a, "w-1", bytes).ok());

  // One byte of the second chunk flipped, as a disk or a hand might.
  EXPECT_EQ(db().Query("UPDATE checkpoint_chunks SET data = set_byte(data, 7, "
                       "255 - get_byte(data, 7)) WHERE seq = 1")
                .affected_rows(),
            2u);
  const absl::Status version =
      checkpoints().ReadSupernetVersion(search, 1).status();
  EXPECT_EQ(version.code(), absl::StatusCode::kDataLoss) << version;
  EXPECT_NE(version.message().find(hash::Sha256Hex(bytes)), std::string::npos)
      << version;
  EXPECT_EQ(checkpoints().ReadTrialUpload(a.trial_id()).status().code(),
            absl::StatusCode::kDataLoss);

  // A missing chunk too.
  db().Query("DELETE FROM checkpoint_chunks WHERE seq = 1");
  EXPECT_EQ(checkpoints().ReadSupernetVersion(search, 1).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_P(CheckpointStoreTest, DeletingTheSearchDeletesItsCheckpoints) {
  const int64_t search = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  ASSERT_TRUE(Upload(a, "w-1", Bytes(10, 1)).ok());
  ASSERT_TRUE(
      checkpoints()
          .PutSupernetVersion(search, 1, 0, {a.trial_id()}, Bytes(10, 2))
          .ok());
  ASSERT_TRUE(store().DeleteSearch(search, /*force=*/true).ok());
  EXPECT_EQ(checkpoints().TrialUploadInfo(a.trial_id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(checkpoints().SupernetVersionInfo(search, 1).status().code(),
            absl::StatusCode::kNotFound);
  ExpectRows("checkpoints", 0);
  ExpectRows("checkpoint_chunks", 0);
}

TEST_P(PostgresCheckpointStoreTest,
       LineageViewNamesVersionsParentsAndTrialNumbers) {
  const int64_t search = NewSearch(3, 3);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w-1", kLongLease);
  ASSERT_TRUE(Upload(b, "w-1", Bytes(10, 1), 640).ok());
  ASSERT_TRUE(
      checkpoints().PutSupernetVersion(search, 1, 0, {}, Bytes(10, 2)).ok());
  ASSERT_TRUE(checkpoints()
                  .PutSupernetVersion(
                      search, 2, 1, {b.trial_id(), a.trial_id()}, Bytes(10, 3))
                  .ok());
  const pqxx::result rows = db().Query(
      "SELECT kind, version, coalesce(parent_version::text, '-'), "
      "coalesce(trial_number::text, '-'), merged_trial_numbers::text, "
      "merge_weight, size FROM checkpoint_lineage WHERE search_id = " +
      std::to_string(search) + " ORDER BY version");
  ASSERT_EQ(rows.size(), 3u);
  std::vector<std::string> lines;
  for (const pqxx::row& row : rows) {
    std::string line;
    for (const pqxx::field& field : row) {
      absl::StrAppend(&line, line.empty() ? "" : " ", field.c_str());
    }
    lines.push_back(line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "TRIAL_UPLOAD 0 - 1 {} 640 10",
                       "SUPERNET 1 0 - {} 0 10",
                       "SUPERNET 2 1 - {1,0} 0 10",
                   }));
}

TEST(OpenPostgresCheckpointStoreTest, RefusesBadUrlsAndUnmigratedDatabases) {
  EXPECT_EQ(OpenPostgresCheckpointStore({"", 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPostgresCheckpointStore({"not-a-url", 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status unreachable =
      OpenPostgresCheckpointStore(
          {"postgresql://nas:hunter22@127.0.0.1:1/nas?connect_timeout=2", 1})
          .status();
  EXPECT_EQ(unreachable.code(), absl::StatusCode::kUnavailable) << unreachable;
  EXPECT_EQ(unreachable.message().find("hunter22"), std::string::npos)
      << unreachable;

  ASSERT_FALSE(AdminUrl().empty()) << kNoDatabaseHelp;
  auto empty = ScratchDatabase::Create(AdminUrl());
  ASSERT_TRUE(empty.ok()) << empty.status();
  const absl::Status unmigrated =
      OpenPostgresCheckpointStore({(*empty)->url(), 1}).status();
  EXPECT_EQ(unmigrated.code(), absl::StatusCode::kFailedPrecondition)
      << unmigrated;
}

}  // namespace
}  // namespace nas::controller::testing

namespace nas::controller::testing {
namespace {

// Early stopping: a TRAIN trial that uploaded its training state and lost
// its lease is leased again with resume set, so the next worker fetches the
// state instead of training from the start.
TEST_P(CheckpointStoreTest, ATrialWithAnUploadIsLeasedToResume) {
  NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w-1", kLongLease);
  EXPECT_FALSE(a.resume());
  ASSERT_TRUE(Upload(a, "w-1", Bytes(100, 3), 0).ok());
  ExpireAllLeases();
  ASSERT_TRUE(store().ExpireLeases().ok());
  const nas::v1::TrialAssignment again = Lease("w-2", kLongLease);
  const nas::v1::TrialAssignment other = Lease("w-2", kLongLease);
  ASSERT_EQ(again.trial_id(), a.trial_id());
  EXPECT_EQ(again.attempt(), 2);
  EXPECT_TRUE(again.resume());
  EXPECT_EQ(other.trial_id(), b.trial_id());
  EXPECT_FALSE(other.resume()) << "it never uploaded";

  // Once the trial ended, nothing resumes it: its state is deleted.
  ASSERT_TRUE(Upload(again, "w-2", Bytes(100, 4), 0).ok());
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(0.3);
  ASSERT_TRUE(
      store().StopTrial(Ref(again, "w-2"), "rung 0", last, 0, false).ok());
  EXPECT_EQ(checkpoints().TrialUploadInfo(a.trial_id()).status().code(),
            absl::StatusCode::kNotFound);
  ExpectRows("checkpoint_chunks", 0);
}

}  // namespace
}  // namespace nas::controller::testing

namespace nas::controller::testing {
namespace {

// Promotion (AshaConfig.promote): a trial paused at a rung keeps its state
// and goes back to PENDING when promoted, to be leased with resume set; its
// leases since do not count toward max_attempts; a trial stopped for good
// is never resumed; the search's end drops the states still kept.
TEST_P(CheckpointStoreTest,
       APausedTrialKeepsItsStateUntilPromotedOrItsSearchEnds) {
  const int64_t id = NewSearch(3, 3, /*max_attempts=*/2);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment c = Lease("w-1", kLongLease);
  for (const nas::v1::TrialAssignment* t : {&a, &b, &c}) {
    ASSERT_TRUE(Upload(*t, "w-1", Bytes(100, t->trial_number()), 0).ok());
  }
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(0.3);
  ASSERT_TRUE(*store().StopTrial(Ref(a, "w-1"), "rung 0: paused", last, 0,
                                 /*paused=*/true));
  ASSERT_TRUE(*store().StopTrial(Ref(b, "w-1"), "rung 0: stopped", last, 0,
                                 /*paused=*/false));
  EXPECT_TRUE(checkpoints().TrialUploadInfo(a.trial_id()).ok());
  EXPECT_EQ(checkpoints().TrialUploadInfo(b.trial_id()).status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<bool> resumed = store().ResumePausedTrial(b.trial_id(), "x");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_FALSE(*resumed) << "stopped for good: no state to resume from";
  EXPECT_FALSE(*store().ResumePausedTrial(c.trial_id(), "x")) << "RUNNING";
  ASSERT_TRUE(*store().ResumePausedTrial(a.trial_id(), "promoted past rung 0"));
  EXPECT_FALSE(*store().ResumePausedTrial(a.trial_id(), "again"));
  nas::v1::Trial t = GetTrial(id, 0);
  EXPECT_EQ(t.state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(t.reason(),
            "attempt 1 on worker w-1: rung 0: paused\npromoted past rung 0");
  EXPECT_FALSE(t.has_finished_at());
  EXPECT_EQ(GetTrial(id, 1).state(), nas::v1::TRIAL_STATE_STOPPED);

  // Leased again, it resumes. Its second lease is not a second try: with
  // max_attempts 2 a lost lease still sends it back to PENDING.
  const nas::v1::TrialAssignment again = Lease("w-2", kLongLease);
  ASSERT_EQ(again.trial_id(), a.trial_id());
  EXPECT_EQ(again.attempt(), 2);
  EXPECT_TRUE(again.resume());
  ExpireLease(a.trial_id());
  ASSERT_TRUE(store().ExpireLeases().ok());
  EXPECT_EQ(GetTrial(id, 0).state(), nas::v1::TRIAL_STATE_PENDING);
  const nas::v1::TrialAssignment third = Lease("w-2", kLongLease);
  EXPECT_EQ(third.attempt(), 3);
  ExpireLease(a.trial_id());
  ASSERT_TRUE(store().ExpireLeases().ok());
  EXPECT_EQ(GetTrial(id, 0).state(), nas::v1::TRIAL_STATE_FAILED)
      << "two tries after its promotion";
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT promotions FROM trial_history "
                         "WHERE number = 0")[0][0]
                  .as<int>(),
              1);
  }

  // Paused, then its search ends: nothing resumes it, so its state goes,
  // as does the state the failed trial's last lease left.
  ASSERT_TRUE(*store().StopTrial(Ref(c, "w-1"), "rung 0: paused", last, 0,
                                 /*paused=*/true));
  EXPECT_TRUE(checkpoints().TrialUploadInfo(c.trial_id()).ok());
  ASSERT_TRUE(store().CancelSearch(id).ok());
  for (int64_t trial_id : {a.trial_id(), c.trial_id()}) {
    EXPECT_EQ(checkpoints().TrialUploadInfo(trial_id).status().code(),
              absl::StatusCode::kNotFound);
  }
  EXPECT_FALSE(*store().ResumePausedTrial(c.trial_id(), "x"));
  ExpectRows("checkpoint_chunks", 0);
}

TEST_P(CheckpointStoreTest, ACompletedSearchDropsItsPausedStates) {
  const int64_t id = NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  const nas::v1::TrialAssignment b = Lease("w-1", kLongLease);
  ASSERT_TRUE(Upload(a, "w-1", Bytes(100, 1), 0).ok());
  nas::v1::TrialMetrics last;
  last.set_val_accuracy(0.3);
  ASSERT_TRUE(*store().StopTrial(Ref(a, "w-1"), "paused", last, 0, true));
  ASSERT_TRUE(*store().CompleteTrial(Ref(b, "w-1"), last));
  ASSERT_TRUE(*store().CompleteSearchIfDone(id));
  EXPECT_EQ(checkpoints().TrialUploadInfo(a.trial_id()).status().code(),
            absl::StatusCode::kNotFound);
}

// Weight sharing with early stopping: a fine-tuned SCORE_INHERITED candidate
// saves and resumes its state like a TRAIN trial, at the rungs of its
// fine-tuning epochs; RETRAIN trials are never judged, so they save none.
TEST_P(CheckpointStoreTest, AFineTunedCandidateSavesAndResumesItsState) {
  nas::v1::SearchSpec spec = Spec("ws-asha", 2);
  spec.mutable_training()->set_epochs(9);
  nas::v1::WeightSharingConfig* ws =
      spec.mutable_estimation()->mutable_weight_sharing();
  ws->mutable_supernet()->set_rounds(1);
  ws->mutable_supernet()->set_shards_per_round(1);
  ws->mutable_candidates()->mutable_fine_tune()->set_epochs(3);
  nas::v1::AshaConfig* asha = spec.mutable_early_stopping()->mutable_asha();
  asha->set_min_epochs(1);
  asha->set_max_epochs(3);
  asha->set_reduction_factor(3);
  auto search = store().CreateSearch(spec, "");
  ASSERT_TRUE(search.ok()) << search.status();
  NewTrial candidate = Trial(0);
  candidate.kind = nas::v1::TRIAL_KIND_SCORE_INHERITED;
  candidate.task.emplace();
  candidate.task->set_checkpoint_version(1);
  *candidate.task->mutable_fine_tune() = ws->candidates().fine_tune();
  NewTrial retrain = Trial(1);
  retrain.kind = nas::v1::TRIAL_KIND_RETRAIN;
  ASSERT_TRUE(store().AddTrials(search->id(), 0, {candidate, retrain}).ok());

  const nas::v1::TrialAssignment a = Lease("w-1", kLongLease);
  ASSERT_EQ(a.kind(), nas::v1::TRIAL_KIND_SCORE_INHERITED);
  EXPECT_EQ(std::vector<int>(a.checkpoint_epochs().begin(),
                             a.checkpoint_epochs().end()),
            (std::vector<int>{1}));
  EXPECT_EQ(a.task().fine_tune().epochs(), 3);
  EXPECT_FALSE(a.resume());
  const nas::v1::TrialAssignment r = Lease("w-1", kLongLease);
  ASSERT_EQ(r.kind(), nas::v1::TRIAL_KIND_RETRAIN);
  EXPECT_EQ(r.checkpoint_epochs_size(), 0);

  ASSERT_TRUE(Upload(a, "w-1", Bytes(100, 5), 0).ok());
  ExpireAllLeases();
  ASSERT_TRUE(store().ExpireLeases().ok());
  nas::v1::TrialAssignment again = Lease("w-2", kLongLease);
  if (again.trial_id() != a.trial_id()) again = Lease("w-2", kLongLease);
  ASSERT_EQ(again.trial_id(), a.trial_id());
  EXPECT_TRUE(again.resume());

  // Completed, it will never resume: its state goes.
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.8);
  ASSERT_TRUE(store().CompleteTrial(Ref(again, "w-2"), metrics).ok());
  EXPECT_EQ(checkpoints().TrialUploadInfo(a.trial_id()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nas::controller::testing
