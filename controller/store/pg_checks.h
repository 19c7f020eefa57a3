// Checks shared by the PostgreSQL stores (trials, checkpoints), inside a
// caller's transaction.
#ifndef NAS_CONTROLLER_STORE_PG_CHECKS_H_
#define NAS_CONTROLLER_STORE_PG_CHECKS_H_

#include <cstdint>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nas::controller {

// NotFound, naming the search, unless it exists.
inline absl::Status CheckSearchExists(pqxx::transaction_base& tx,
                                      int64_t search_id) {
  if (tx.exec_params("SELECT 1 FROM searches WHERE id = $1", search_id)
          .empty()) {
    return absl::NotFoundError(
        absl::StrCat("search ", search_id, " not found"));
  }
  return absl::OkStatus();
}

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_PG_CHECKS_H_
