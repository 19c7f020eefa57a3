// What a store's database connections have been through, for the metrics
// endpoint: connections opened (the first ones and every reconnect after a
// loss) and calls that failed, by the status they failed with.
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
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_DATABASE_STATS_H_
