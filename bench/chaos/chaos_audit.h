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

// A weight-sharing search's plan (rounds 0: trains from scratch).
struct WeightSharingShape {
  int rounds = 0;
  int shards_per_round = 0;
  int retrain_top_k = 0;
  int extra_trials() const {
    return rounds * shards_per_round + retrain_top_k;
  }
};

// Runs every check against `search_id`, which must have `max_trials`
// candidates (plus the shards and retrainings of `weight_sharing`) of
// `epochs` epochs each and allow `max_attempts` leases per trial. For weight
// sharing it also checks the supernet's lineage: versions 1..rounds without
// gaps, each merged from exactly its round's completed shards, every
// candidate scored on the last version, and the retrained candidates the
// best scored. Throws like pqxx when the database cannot be reached.
AuditResult Audit(const testing::TestDatabase& db, int64_t search_id,
                  int max_trials, int epochs, int max_attempts,
                  const WeightSharingShape& weight_sharing = {});

}  // namespace nas::chaos

#endif  // NAS_BENCH_CHAOS_CHAOS_AUDIT_H_
