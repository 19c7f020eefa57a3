// What a store's database connections have been through, for the metrics
// endpoint: connections opened (the first ones and every reconnect after a
// loss), calls that failed, by the status they failed with, and how well
// concurrent writes were batched.
#ifndef NAS_CONTROLLER_STORE_DATABASE_STATS_H_
#define NAS_CONTROLLER_STORE_DATABASE_STATS_H_

#include <cstdint>
#include <map>
#include <string>

namespace nas::controller {

struct DatabaseStats {
  int64_t connections_opened = 0;
  // Failed calls by status code name ("UNAVAILABLE", "ABORTED", ...).
  std::map<std::string, int64_t> errors;
  // Group commit, by operation ("epochs", "completions"): the transactions
  // that wrote several callers' requests, how many requests they held, and
  // how many wait for one now.
  struct Batching {
    int64_t batches = 0;
    int64_t requests = 0;
    int64_t queued = 0;
  };
  std::map<std::string, Batching> batching;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_DATABASE_STATS_H_
