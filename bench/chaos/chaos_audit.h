// The audit after a chaos run: SQL checks that every trial of the search
// ended in exactly one terminal state with its result recorded once, plus
// figures for the report.
#ifndef NAS_BENCH_CHAOS_CHAOS_AUDIT_H_
#define NAS_BENCH_CHAOS_CHAOS_AUDIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/test_database.h"

namespace nas::chaos {

struct AuditCheck {
  std::string name;
  bool passed = false;
  std::string detail;  // what the query found
};

struct AuditResult {
  std::vector<AuditCheck> checks;
  // Figures.
  int64_t trials = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t other_states = 0;  // PENDING, RUNNING, STOPPED, CANCELLED
  int64_t max_attempt = 0;
  int64_t retried_trials = 0;     // attempt > 1
  int64_t extra_attempts = 0;     // sum of attempt - 1
  int64_t completed_without_epochs = 0;  // epoch reports lost in outages

  bool passed() const;
};

// Runs every check against `search_id`, which must have `max_trials`
// trials of `epochs` epochs each and allow `max_attempts` leases per trial.
// Throws like pqxx when the database cannot be reached.
AuditResult Audit(const testing::TestDatabase& db, int64_t search_id,
                  int max_trials, int epochs, int max_attempts);

}  // namespace nas::chaos

#endif  // NAS_BENCH_CHAOS_CHAOS_AUDIT_H_
