#include "controller/store/store_test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/checkpoints/postgres_checkpoint_store.h"
#include "controller/memory_store/memory_store.h"

namespace nas::controller::testing {
namespace {

std::atomic<int> next_database{0};

void RunAdmin(const std::string& admin_url, const std::string& sql) {
  pqxx::connection admin(admin_url);
  pqxx::nontransaction tx(admin);
  tx.exec0("SET client_min_messages TO warning");
  tx.exec0(sql);
}

}  // namespace

const char kNoDatabaseHelp[] =
    "NAS_TEST_DATABASE_URL is not set. These tests need a PostgreSQL role "
    "allowed CREATEDB, e.g.\n  export NAS_TEST_DATABASE_URL=$("
    "scripts/pg_local.sh start /tmp/nas-pg-55432 55432)";

std::string AdminUrl() {
  const char* url = std::getenv("NAS_TEST_DATABASE_URL");
  return url == nullptr ? "" : url;
}

std::string WithDatabase(const std::string& url, const std::string& dbname) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    // key=value form: a later key overrides an earlier one.
    return absl::StrCat(url, " dbname=", dbname);
  }
  const size_t query = url.find('?', scheme + 3);
  const size_t path = url.find('/', scheme + 3);
  const std::string params =
      query == std::string::npos ? "" : url.substr(query);
  if (path == std::string::npos || path > query) {
    return absl::StrCat(url.substr(0, std::min(query, url.size())), "/", dbname,
                        params);
  }
  return absl::StrCat(url.substr(0, path), "/", dbname, params);
}

std::string ReaderUrl(const std::string& admin_url, const std::string& dbname) {
  const char* reader = std::getenv("NAS_TEST_READER_URL");
  if (reader != nullptr && *reader != '\0') return WithDatabase(reader, dbname);
  const std::string url = WithDatabase(admin_url, dbname);
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return absl::StrCat(url, " user=nas_reader password=nas_reader");
  }
  // Replace the user info (before '@' in the authority), if any.
  const size_t authority = scheme + 3;
  const size_t end = url.find_first_of("/?", authority);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  const size_t host =
      at == std::string::npos || at < authority ? authority : at + 1;
  return absl::StrCat(url.substr(0, authority), "nas_reader:nas_reader@",
                      url.substr(host));
}

absl::StatusOr<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(
    const std::string& admin_url) {
  const std::string name =
      absl::StrCat("nas_test_", getpid(), "_", next_database++);
  try {
    RunAdmin(admin_url,
             absl::StrCat("DROP DATABASE IF EXISTS ", name, " WITH (FORCE)"));
    RunAdmin(admin_url, absl::StrCat("CREATE DATABASE ", name));
    RunAdmin(admin_url, absl::StrCat("REVOKE TEMPORARY ON DATABASE ", name,
                                     " FROM PUBLIC"));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create database ", name,
                     " via NAS_TEST_DATABASE_URL (the "
                     "role needs CREATEDB): ",
                     e.what()));
  }
  return std::unique_ptr<ScratchDatabase>(new ScratchDatabase(admin_url, name));
}

ScratchDatabase::~ScratchDatabase() {
  connection_.reset();
  try {
    RunAdmin(admin_url_,
             absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot drop " << name_ << ": " << e.what();
  }
}

pqxx::result ScratchDatabase::Query(const std::string& sql) {
  if (connection_ == nullptr || !connection_->is_open()) {
    connection_ = std::make_unique<pqxx::connection>(url_);
  }
  pqxx::work tx(*connection_);
  pqxx::result result = tx.exec(sql);
  tx.commit();
  return result;
}

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param == StoreBackend::kPostgres ? "Postgres" : "Memory";
}

void StoreTestBase::OpenStore(StoreBackend backend) {
  backend_ = backend;
  if (backend == StoreBackend::kMemory) {
    clock_ = std::make_unique<FakeClock>();
    store_ = std::make_unique<MemoryStore>(clock_.get());
    return;
  }
  const std::string admin_url = AdminUrl();
  ASSERT_FALSE(admin_url.empty()) << kNoDatabaseHelp;
  absl::StatusOr<std::unique_ptr<ScratchDatabase>> db =
      ScratchDatabase::Create(admin_url);
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = *std::move(db);
  absl::StatusOr<std::unique_ptr<TrialStore>> store =
      OpenPostgresStore({db_->url(), /*pool_size=*/4});
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
}

void StoreTestBase::CloseStore() {
  replica_checkpoints_.reset();
  checkpoints_.reset();
  store_.reset();
  clock_.reset();
  db_.reset();
}

CheckpointStore& StoreTestBase::checkpoints() {
  if (!postgres()) return static_cast<MemoryStore&>(*store_);
  if (checkpoints_ == nullptr) {
    absl::StatusOr<std::unique_ptr<CheckpointStore>> opened =
        OpenPostgresCheckpointStore({db_->url(), 2});
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) checkpoints_ = *std::move(opened);
  }
  return *checkpoints_;
}

CheckpointStore& StoreTestBase::ReplicaCheckpoints() {
  if (!postgres()) return static_cast<MemoryStore&>(*store_);
  if (replica_checkpoints_ == nullptr) {
    absl::StatusOr<std::unique_ptr<CheckpointStore>> opened =
        OpenPostgresCheckpointStore({db_->url(), 1});
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) replica_checkpoints_ = *std::move(opened);
  }
  return *replica_checkpoints_;
}

void StoreTestBase::ExpireLease(int64_t trial_id) {
  if (!postgres()) {
    MemoryStore& memory = static_cast<MemoryStore&>(*store_);
    EXPECT_TRUE(memory
                    .SetLeaseExpiryForTesting(trial_id,
                                              clock_->Now() - absl::Seconds(1))
                    .ok())
        << "trial " << trial_id << " holds no lease";
    return;
  }
  EXPECT_EQ(db_->Query("UPDATE trials SET lease_expires_at = now() - "
                       "interval '1 second' WHERE state = 'RUNNING' AND id = " +
                       std::to_string(trial_id))
                .affected_rows(),
            1u)
      << "trial " << trial_id << " holds no lease";
}

void StoreTestBase::ExpireAllLeases() {
  if (postgres()) {
    db_->Query(
        "UPDATE trials SET lease_expires_at = now() - interval '1 s' "
        "WHERE state = 'RUNNING'");
    return;
  }
  // Past every lease a test takes (the longest are 30 minutes).
  clock_->Advance(absl::Hours(24));
}

absl::Duration StoreTestBase::LeaseLeft(int64_t trial_id) {
  if (!postgres()) {
    absl::StatusOr<absl::Time> expiry =
        static_cast<MemoryStore&>(*store_).LeaseExpiryForTesting(trial_id);
    EXPECT_TRUE(expiry.ok()) << expiry.status();
    return expiry.ok() ? *expiry - clock_->Now() : absl::ZeroDuration();
  }
  return absl::Seconds(
      db_->Query("SELECT extract(epoch FROM lease_expires_at - now()) FROM "
                 "trials WHERE id = " +
                 std::to_string(trial_id))[0][0]
          .as<double>());
}

absl::Time StoreTestBase::StoreNow() {
  return postgres() ? absl::Now() : clock_->Now();
}

void StoreTestBase::PassTime(absl::Duration d) {
  if (postgres()) {
    absl::SleepFor(d);
  } else {
    clock_->Advance(d);
  }
}

nas::v1::SearchSpec StoreTestBase::Spec(const std::string& name, int max_trials,
                                        int max_attempts,
                                        const std::string& metric,
                                        nas::v1::Direction direction) {
  nas::v1::SearchSpec spec;
  spec.set_name(name);
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_FASHION_MNIST);
  spec.mutable_dataset()->set_validation_fraction(0.1);
  nas::v1::ChainSpace* chain = spec.mutable_space()->mutable_chain();
  chain->set_stem_channels(16);
  nas::v1::ChainStage* stage = chain->add_stages();
  stage->add_depths(1);
  stage->add_depths(2);
  stage->add_widths(16);
  stage->add_ops("conv3x3");
  stage->add_ops("skip");
  stage->set_stride(2);
  spec.mutable_strategy()->mutable_random();
  nas::v1::Objective* objective = spec.add_objectives();
  objective->set_metric(metric);
  objective->set_direction(direction);
  spec.mutable_budget()->set_max_trials(max_trials);
  spec.mutable_budget()->set_parallelism(2);
  spec.mutable_budget()->set_max_attempts(max_attempts);
  spec.mutable_training()->set_epochs(2);
  spec.mutable_training()->set_data_fraction(0.25);
  spec.mutable_training()->set_batch_size(64);
  spec.mutable_training()->set_learning_rate(0.05);
  spec.set_seed(42);
  return spec;
}

NewTrial StoreTestBase::Trial(int i) {
  NewTrial trial;
  trial.architecture.add_choices(i % 2);
  trial.architecture.add_choices(i % 3);
  trial.architecture.add_choices(i);
  trial.architecture.set_text(absl::StrCat("depth=", i % 2, " op=", i % 3));
  trial.canonical_key = absl::StrCat("key-", i);
  trial.budget.set_epochs(2);
  trial.budget.set_data_fraction(0.25);
  trial.budget.set_batch_size(64);
  trial.budget.set_learning_rate(0.05);
  trial.seed = 1000 + i;
  return trial;
}

int64_t StoreTestBase::NewSearch(int max_trials, int trials, int max_attempts) {
  absl::StatusOr<nas::v1::Search> search =
      store_->CreateSearch(Spec("search", max_trials, max_attempts), "");
  EXPECT_TRUE(search.ok()) << search.status();
  if (!search.ok()) return 0;
  std::vector<NewTrial> batch;
  for (int i = 0; i < trials; ++i) batch.push_back(Trial(i));
  const absl::Status added = store_->AddTrials(search->id(), 0, batch);
  EXPECT_TRUE(added.ok()) << added;
  return search->id();
}

nas::v1::TrialAssignment StoreTestBase::Lease(const std::string& worker,
                                              absl::Duration lease) {
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      store_->LeaseTrial(worker, lease);
  EXPECT_TRUE(leased.ok()) << leased.status();
  if (!leased.ok() || !leased->has_value()) {
    ADD_FAILURE() << "no trial to lease";
    return nas::v1::TrialAssignment();
  }
  return **leased;
}

nas::v1::Trial StoreTestBase::GetTrial(int64_t search_id, int32_t number) {
  absl::StatusOr<std::vector<nas::v1::Trial>> trials =
      store_->ListTrials(search_id, {}, number - 1, 1);
  EXPECT_TRUE(trials.ok()) << trials.status();
  if (!trials.ok() || trials->empty() || (*trials)[0].number() != number) {
    ADD_FAILURE() << "trial " << number << " of search " << search_id
                  << " not found";
    return nas::v1::Trial();
  }
  return (*trials)[0];
}

}  // namespace nas::controller::testing
