#include "bench/chaos/chaos_audit.h"

#include <string>
#include <utility>

namespace nas::chaos {
namespace {

int64_t ToInt(const std::string& text) {
  return text.empty() ? 0 : std::stoll(text);
}

void AuditWeightSharing(const testing::TestDatabase& db, int64_t search_id,
                        int candidates, const WeightSharingShape& ws,
                        AuditResult* r) {
  const std::string sid = std::to_string(search_id);
  auto scalar = [&](const std::string& sql) { return db.QueryScalar(sql); };
  auto check = [&](const std::string& name, bool passed, std::string detail) {
    r->checks.push_back({name, passed, std::move(detail)});
  };
  std::string want_versions;
  for (int v = 1; v <= ws.rounds; ++v) {
    want_versions += (v > 1 ? "," : "") + std::to_string(v) + "<" +
                     std::to_string(v - 1);
  }
  const std::string versions = scalar(
      "SELECT coalesce(string_agg(version || '<' || parent_version, ',' "
      "ORDER BY version), '') FROM checkpoints WHERE version > 0 AND "
      "search_id = " + sid);
  check("supernet versions 1..rounds, each from the one before",
        versions == want_versions, "version<parent: " + versions);

  // A version's merged trials must be exactly its round's shards, all
  // COMPLETED: none lost, none merged twice, none from another round.
  const int64_t bad_merges = ToInt(scalar(
      "SELECT count(*) FROM checkpoints k WHERE k.version > 0 AND "
      "k.search_id = " + sid + " AND (cardinality(k.merged_trial_ids) <> " +
      std::to_string(ws.shards_per_round) +
      " OR (SELECT count(DISTINCT t.id) FROM trials t WHERE t.id = "
      "ANY(k.merged_trial_ids) AND t.kind = 'SUPERNET_SHARD' AND t.state = "
      "'COMPLETED' AND (t.task->>'round')::int = k.version - 1) <> " +
      std::to_string(ws.shards_per_round) + ")"));
  check("each version merged exactly its round's completed shards",
        bad_merges == 0, std::to_string(bad_merges) + " versions wrong");

  const int64_t off_version = ToInt(scalar(
      "SELECT count(*) FROM trials t WHERE t.search_id = " + sid +
      " AND t.kind = 'SCORE_INHERITED' AND (t.task->>'checkpoint_version')"
      "::int <> " + std::to_string(ws.rounds)));
  check("every candidate inherited the last version", off_version == 0,
        std::to_string(off_version) + " candidates on another version");

  // The retrained are the best scored candidates (by val_accuracy, ties by
  // number, as the plan picks them).
  const std::string k = std::to_string(ws.retrain_top_k);
  const std::string retrained = scalar(
      "SELECT coalesce(string_agg(arch_text, '|' ORDER BY arch_text), '') "
      "FROM trials WHERE kind = 'RETRAIN' AND search_id = " + sid);
  const std::string best = scalar(
      "SELECT coalesce(string_agg(arch_text, '|' ORDER BY arch_text), '') "
      "FROM (SELECT arch_text FROM trials WHERE kind = 'SCORE_INHERITED' AND "
      "state = 'COMPLETED' AND search_id = " + sid +
      " ORDER BY val_accuracy DESC, number LIMIT " + k + ") b");
  check("the retrained are the best " + k + " scored of " +
            std::to_string(candidates),
        !retrained.empty() && retrained == best, "retrained " + retrained);
}

}  // namespace

bool AuditResult::passed() const {
  for (const AuditCheck& check : checks) {
    if (!check.passed) return false;
  }
  return !checks.empty();
}

AuditResult Audit(const testing::TestDatabase& db, int64_t search_id,
                  int candidates, int epochs, int max_attempts,
                  const WeightSharingShape& ws) {
  const int max_trials = candidates + ws.extra_trials();
  const std::string sid = std::to_string(search_id);
  const std::string of_search = " FROM trials t WHERE t.search_id = " + sid;
  // Lines in a trial's reason: one per attempt that ended without a result
  // (lease expired, or the worker reported a failure), joined by newlines
  // with none after the last.
  const std::string reason_lines =
      "(CASE WHEN t.reason = '' THEN 0 ELSE length(t.reason) - "
      "length(replace(t.reason, E'\\n', '')) + 1 END)";
  auto scalar = [&](const std::string& sql) { return db.QueryScalar(sql); };
  auto count = [&](const std::string& where) {
    return ToInt(scalar("SELECT count(*)" + of_search + " AND (" + where + ")"));
  };

  AuditResult r;
  r.trials = ToInt(scalar("SELECT count(*)" + of_search));
  r.completed = count("t.state = 'COMPLETED'");
  r.failed = count("t.state = 'FAILED'");
  r.other_states = r.trials - r.completed - r.failed;
  r.max_attempt = ToInt(scalar("SELECT max(t.attempt)" + of_search));
  r.retried_trials = count("t.attempt > 1");
  r.extra_attempts =
      ToInt(scalar("SELECT coalesce(sum(t.attempt - 1), 0)" + of_search));
  r.completed_without_epochs = count(
      "t.state = 'COMPLETED' AND NOT EXISTS (SELECT 1 FROM trial_epochs e "
      "WHERE e.trial_id = t.id AND e.attempt = t.attempt)");

  auto check = [&](const std::string& name, bool passed, std::string detail) {
    r.checks.push_back({name, passed, std::move(detail)});
  };
  const std::string search_state =
      scalar("SELECT state FROM searches WHERE id = " + sid);
  check("search completed", search_state == "COMPLETED",
        "state " + search_state);

  const int64_t not_terminal = count(
      "t.state NOT IN ('COMPLETED', 'FAILED', 'STOPPED', 'CANCELLED')");
  check("every trial in one terminal state", not_terminal == 0,
        std::to_string(not_terminal) + " trials not terminal");

  // One row per (search, number) is the schema's UNIQUE constraint; the
  // numbers must also be exactly 0..max_trials-1, no gap, no extra.
  const std::string numbering = scalar(
      "SELECT count(*) || '/' || count(DISTINCT t.number) || '/' || "
      "coalesce(min(t.number), -1) || '/' || coalesce(max(t.number), -1)" +
      of_search);
  const std::string want = std::to_string(max_trials) + "/" +
                           std::to_string(max_trials) + "/0/" +
                           std::to_string(max_trials - 1);
  check("exactly the planned trials, numbered 0..n-1, no duplicates",
        numbering == want, "count/distinct/min/max " + numbering);

  // The strategy is deterministic per snapshot and never repeats an
  // architecture, so a doubled strategy step would show as repeated keys.
  // Candidates only: a retraining repeats its candidate's key, and shards
  // have none.
  const std::string candidate = "t.kind IN ('TRAIN', 'SCORE_INHERITED')";
  const int64_t repeated_keys =
      count(candidate) -
      ToInt(scalar("SELECT count(DISTINCT t.canonical_key)" + of_search +
                   " AND " + candidate));
  check("no strategy step doubled (distinct architectures)",
        repeated_keys == 0,
        std::to_string(repeated_keys) + " repeated architectures");

  const int64_t bad_attempts =
      count("t.attempt < 1 OR t.attempt > " + std::to_string(max_attempts) +
            " OR (t.state = 'COMPLETED' AND " + reason_lines +
            " <> t.attempt - 1) OR (t.state = 'FAILED' AND " + reason_lines +
            " <> t.attempt)");
  check("attempts consistent with the recorded reasons", bad_attempts == 0,
        std::to_string(bad_attempts) + " trials inconsistent");

  // What each kind measures (docs/estimators.md): training measures
  // everything; an inherited score no test metrics; a shard only its time.
  const int64_t missing_metrics = count(
      "t.state = 'COMPLETED' AND (t.train_seconds IS NULL OR "
      "t.finished_at IS NULL OR t.lease_expires_at IS NOT NULL OR "
      "(t.kind <> 'SUPERNET_SHARD' AND (t.val_accuracy IS NULL OR "
      "t.val_loss IS NULL OR t.params IS NULL OR t.flops IS NULL OR "
      "t.latency_ms IS NULL)) OR (t.kind IN ('TRAIN', 'RETRAIN') AND "
      "(t.test_accuracy IS NULL OR t.test_loss IS NULL)))");
  check("every completed trial has its metrics", missing_metrics == 0,
        std::to_string(missing_metrics) + " completed trials lack metrics");

  const int64_t stray_epochs = ToInt(scalar(
      "SELECT count(*) FROM trial_epochs e JOIN trials t ON t.id = e.trial_id "
      "WHERE t.search_id = " + sid +
      " AND (e.attempt < 1 OR e.attempt > t.attempt OR e.epoch < 1 OR "
      "e.epoch > " + std::to_string(epochs) + ")"));
  check("trial_epochs only for real attempts", stray_epochs == 0,
        std::to_string(stray_epochs) + " epoch rows outside any attempt");
  if (ws.rounds > 0) AuditWeightSharing(db, search_id, candidates, ws, &r);
  return r;
}

}  // namespace nas::chaos
