// Versioned schema migrations of the PostgreSQL trial store. Internal to
// nas_store; docs/schema.md describes the resulting schema.
#ifndef NAS_CONTROLLER_STORE_MIGRATIONS_H_
#define NAS_CONTROLLER_STORE_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pqxx/pqxx"

namespace nas::controller {

struct Migration {
  int version = 0;   // 1, 2, 3, ... increasing
  std::string name;  // snake_case, e.g. "create_tables"
  std::string sql;   // one or more statements
};

// Every migration, in version order. Append only: a released migration is
// never edited, a change is a new migration.
const std::vector<Migration>& AllMigrations();

// The advisory lock (pg_advisory_xact_lock) that serializes migrations of
// one database, so that controllers starting together do not race.
inline constexpr long long kMigrationLockKey =
    0x6e61735f6d696772;  // "nas_migr"

// The advisory lock (pg_advisory_xact_lock) under which trial count deltas
// are folded and a deleted search's counts dropped (migration 12, whose
// trigger has this number written into it: never change it).
inline constexpr long long kTrialCountsLockKey =
    0x6e61735f636e7473;  // "nas_cnts"

// Brings the database at `connection` up to the newest version: creates
// schema_migrations if missing, then applies each missing migration in its
// own transaction under kMigrationLockKey and records it there. Applying
// twice changes nothing. FailedPrecondition when the database has a version
// this binary does not know (a newer controller migrated it). Throws
// pqxx exceptions; callers run it through PgPool::Run.
absl::Status ApplyMigrations(pqxx::connection& connection);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_MIGRATIONS_H_
