// The PostgreSQL CheckpointStore: tables checkpoints and checkpoint_chunks
// (migration 9, controller/store/migrations.cc; docs/schema.md).
#ifndef NAS_CONTROLLER_CHECKPOINTS_POSTGRES_CHECKPOINT_STORE_H_
#define NAS_CONTROLLER_CHECKPOINTS_POSTGRES_CHECKPOINT_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/checkpoints/checkpoint_store.h"

namespace nas::controller {

struct PostgresCheckpointStoreOptions {
  // The trial store's database (PostgresStoreOptions::database_url).
  std::string database_url;
  // Connections of its own, apart from the trial store's, so that a long
  // transfer of weights never keeps a lease call waiting for a connection.
  // At least 1.
  int pool_size = 2;
};

// Connects to a database that OpenPostgresStore has already migrated and
// returns the store. FailedPrecondition when the schema lacks the
// checkpoint tables (an older controller's database that was not
// migrated); Unavailable when the database cannot be reached;
// InvalidArgument for an empty or malformed URL. Messages never show the
// password.
//
// Bytes are kept in rows of kCheckpointChunkBytes (checkpoint_chunks).
// Each call is one transaction holding the whole checkpoint in memory;
// writes and reads of one checkpoint are atomic. A lost connection makes
// the call Unavailable and the next call reconnects.
absl::StatusOr<std::unique_ptr<CheckpointStore>> OpenPostgresCheckpointStore(
    const PostgresCheckpointStoreOptions& options);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CHECKPOINTS_POSTGRES_CHECKPOINT_STORE_H_
