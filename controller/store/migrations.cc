#include "controller/store/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace nas::controller {
namespace {

// Version 1: the tables. Column meanings are documented in docs/schema.md.
constexpr char kCreateTables[] = R"sql(
CREATE TABLE searches (
  id                  bigserial PRIMARY KEY,
  name                text NOT NULL DEFAULT '',
  spec                jsonb NOT NULL,
  state               text NOT NULL DEFAULT 'RUNNING'
                      CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELLED')),
  max_trials          integer NOT NULL CHECK (max_trials >= 1),
  parallelism         integer NOT NULL CHECK (parallelism >= 1),
  max_attempts        integer NOT NULL CHECK (max_attempts >= 1),
  objective_metric    text NOT NULL
                      CHECK (objective_metric IN ('val_accuracy', 'test_accuracy',
                             'val_loss', 'params', 'flops', 'latency_ms',
                             'train_seconds')),
  objective_direction text NOT NULL
                      CHECK (objective_direction IN ('MAXIMIZE', 'MINIMIZE')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  CHECK ((state = 'RUNNING') = (finished_at IS NULL))
);
CREATE INDEX searches_running_idx ON searches (id) WHERE state = 'RUNNING';

CREATE TABLE trials (
  id               bigserial PRIMARY KEY,
  search_id        bigint NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
  number           integer NOT NULL CHECK (number >= 0),
  state            text NOT NULL DEFAULT 'PENDING'
                   CHECK (state IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED',
                                    'STOPPED', 'CANCELLED')),
  kind             text NOT NULL DEFAULT 'TRAIN' CHECK (kind IN ('TRAIN')),
  arch_text        text NOT NULL DEFAULT '',
  arch_choices     integer[] NOT NULL DEFAULT '{}',
  canonical_key    text NOT NULL DEFAULT '',
  budget           jsonb NOT NULL DEFAULT '{}',
  seed             bigint NOT NULL DEFAULT 0,
  attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  worker_id        text,
  lease_expires_at timestamptz,
  val_accuracy     double precision,
  val_loss         double precision,
  test_accuracy    double precision,
  test_loss        double precision,
  params           bigint,
  flops            bigint,
  latency_ms       double precision,
  train_seconds    double precision,
  reason           text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  UNIQUE (search_id, number),
  CHECK (state <> 'RUNNING' OR
         (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- LeaseTrial: the oldest PENDING trial of the oldest search.
CREATE INDEX trials_pending_idx ON trials (search_id, number)
  WHERE state = 'PENDING';
-- ExpireLeases: RUNNING trials by lease end.
CREATE INDEX trials_lease_idx ON trials (lease_expires_at)
  WHERE state = 'RUNNING';
CREATE INDEX trials_canonical_key_idx ON trials (search_id, canonical_key);

CREATE TABLE trial_epochs (
  trial_id     bigint NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  epoch        integer NOT NULL,
  train_loss   double precision NOT NULL,
  val_loss     double precision NOT NULL,
  val_accuracy double precision NOT NULL,
  seconds      double precision NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trial_id, attempt, epoch)
);

CREATE SEQUENCE worker_id_seq;
CREATE TABLE workers (
  id                  text PRIMARY KEY
                      DEFAULT 'w-' || nextval('worker_id_seq'),
  host                text NOT NULL DEFAULT '',
  device_type         text NOT NULL DEFAULT 'UNSPECIFIED'
                      CHECK (device_type IN ('UNSPECIFIED', 'CPU', 'CUDA')),
  device_name         text NOT NULL DEFAULT '',
  device_memory_bytes bigint NOT NULL DEFAULT 0,
  registered_at       timestamptz NOT NULL DEFAULT now(),
  last_seen_at        timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE worker_id_seq OWNED BY workers.id;
)sql";

// Version 2: read-only views for people and dashboards.
constexpr char kCreateViews[] = R"sql(
CREATE VIEW trial_history AS
SELECT t.id AS trial_id,
       t.search_id,
       s.name AS search_name,
       t.number,
       t.state,
       t.kind,
       t.arch_text AS architecture,
       t.arch_choices,
       t.attempt,
       t.worker_id,
       t.val_accuracy,
       t.val_loss,
       t.test_accuracy,
       t.test_loss,
       t.params,
       t.flops,
       t.latency_ms,
       t.train_seconds,
       t.reason,
       t.created_at,
       t.started_at,
       t.finished_at,
       t.finished_at - t.started_at AS last_attempt_duration
FROM trials t
JOIN searches s ON s.id = t.search_id;

-- The fixed whitelist from objective names to columns: the CASE below.
-- kObjectiveMetrics (proto_rows.cc) must list the same metrics.
CREATE VIEW best_trials AS
WITH scored AS (
  SELECT t.id AS trial_id,
         t.search_id,
         s.name AS search_name,
         t.number,
         t.arch_text AS architecture,
         s.objective_metric,
         s.objective_direction,
         CASE s.objective_metric
           WHEN 'val_accuracy' THEN t.val_accuracy
           WHEN 'test_accuracy' THEN t.test_accuracy
           WHEN 'val_loss' THEN t.val_loss
           WHEN 'params' THEN t.params::double precision
           WHEN 'flops' THEN t.flops::double precision
           WHEN 'latency_ms' THEN t.latency_ms
           WHEN 'train_seconds' THEN t.train_seconds
         END AS objective_value,
         t.val_accuracy,
         t.val_loss,
         t.test_accuracy,
         t.test_loss,
         t.params,
         t.flops,
         t.latency_ms,
         t.train_seconds,
         t.finished_at
  FROM trials t
  JOIN searches s ON s.id = t.search_id
  WHERE t.state = 'COMPLETED'
)
SELECT rank() OVER (
         PARTITION BY search_id
         ORDER BY CASE WHEN objective_direction = 'MAXIMIZE'
                       THEN -objective_value ELSE objective_value END
                  NULLS LAST) AS rank,
       scored.*
FROM scored;

CREATE VIEW epoch_metrics AS
SELECT t.search_id,
       t.number AS trial_number,
       e.trial_id,
       e.attempt,
       e.attempt = t.attempt AS current_attempt,
       e.epoch,
       e.train_loss,
       e.val_loss,
       e.val_accuracy,
       e.seconds,
       e.recorded_at
FROM trial_epochs e
JOIN trials t ON t.id = e.trial_id;
)sql";

// Version 3: who created each search (a token name; '' when authentication
// is off), so that clients see only their own.
constexpr char kAddSearchOwner[] = R"sql(
ALTER TABLE searches ADD COLUMN owner text NOT NULL DEFAULT '';
CREATE INDEX searches_owner_idx ON searches (owner, id);
)sql";

// Version 4: searches can end FAILED, and say why a search ended as it did.
constexpr char kAddSearchStateReason[] = R"sql(
ALTER TABLE searches ADD COLUMN state_reason text NOT NULL DEFAULT '';
ALTER TABLE searches DROP CONSTRAINT searches_state_check;
ALTER TABLE searches ADD CONSTRAINT searches_state_check
  CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELLED', 'FAILED'));
)sql";

// Version 6: archived searches are hidden from ListSearches unless asked
// for. Only a finished search can be archived (ExtendSearch unarchives).
constexpr char kAddSearchArchivedAt[] = R"sql(
ALTER TABLE searches ADD COLUMN archived_at timestamptz;
ALTER TABLE searches ADD CONSTRAINT searches_archived_check
  CHECK (archived_at IS NULL OR state <> 'RUNNING');
COMMENT ON COLUMN searches.archived_at IS
  'when ArchiveSearch hid the search from ListSearches; NULL when not archived';
)sql";

constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
)sql";

void LockMigrations(pqxx::work& tx) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
}

}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "create_tables", kCreateTables},
      {2, "create_views", kCreateViews},
      {3, "add_search_owner", kAddSearchOwner},
      {4, "add_search_state_reason", kAddSearchStateReason},
      {6, "add_search_archived_at", kAddSearchArchivedAt},
  };
  return *migrations;
}

absl::Status ApplyMigrations(pqxx::connection& connection) {
  const std::vector<Migration>& migrations = AllMigrations();
  const int newest_known = migrations.empty() ? 0 : migrations.back().version;
  {
    // CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator
    // on its own; the advisory lock makes it so.
    pqxx::work tx(connection);
    LockMigrations(tx);
    tx.exec0(kCreateMigrationsTable);
    const int newest_applied =
        tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
            .as<int>();
    tx.commit();
    if (newest_applied > newest_known) {
      return absl::FailedPreconditionError(
          absl::StrCat("database schema version ", newest_applied,
                       " is newer than this controller knows (", newest_known,
                       "); upgrade the controller"));
    }
  }
  for (const Migration& migration : migrations) {
    pqxx::work tx(connection);
    LockMigrations(tx);
    const pqxx::result applied =
        tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1",
                       migration.version);
    if (!applied.empty()) continue;  // the destructor rolls back
    tx.exec(migration.sql);
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        migration.version, migration.name);
    tx.commit();
  }
  return absl::OkStatus();
}

}  // namespace nas::controller
