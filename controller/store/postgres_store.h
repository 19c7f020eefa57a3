// The PostgreSQL TrialStore. Schema and example queries: docs/schema.md.
#ifndef NAS_CONTROLLER_STORE_POSTGRES_STORE_H_
#define NAS_CONTROLLER_STORE_POSTGRES_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

struct PostgresStoreOptions {
  // libpq connection URL (or key=value string), e.g.
  // postgresql://nas:nas@127.0.0.1:55432/nas. A connect_timeout of 10 s is
  // added when the URL names none.
  std::string database_url;
  // Connections kept open; each serves one call at a time, and callers wait
  // when all are busy. At least 1.
  int pool_size = 4;
};

// Connects, applies every missing schema migration (serialized across
// processes by an advisory lock) and returns the store. Unavailable when the
// database cannot be reached (worth retrying); FailedPrecondition when its
// schema is newer than this binary, or the login is refused or the role or
// database does not exist; InvalidArgument for an empty or malformed URL.
// Messages name the database by its URL with the password masked.
//
// The store survives database restarts: a pooled connection found dead when
// a call begins is replaced before anything is sent; a call whose
// connection breaks midway (or that cannot connect) returns Unavailable,
// and a later call reconnects.
absl::StatusOr<std::unique_ptr<TrialStore>> OpenPostgresStore(
    const PostgresStoreOptions& options);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_POSTGRES_STORE_H_
