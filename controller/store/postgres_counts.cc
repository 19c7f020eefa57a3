// PostgresStore: trial counts. Triggers on trials (migration 12) record
// every change of a trial's kind or state as delta rows; a read adds a
// search's deltas to its folded counts, and FoldTrialCounts moves the
// deltas into those counts, so that a read costs the deltas since the last
// fold, never the search's history.
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "controller/store/migrations.h"
#include "controller/store/pg_pool.h"
#include "controller/store/postgres_store_impl.h"
#include "controller/store/proto_rows.h"

namespace nas::controller {
namespace {

// A read that finds this many deltas folds them, which bounds what a read
// costs. Maintenance folds on every pass (a second), but not in its grace
// period after a controller starts; a bulk change (cancelling a search)
// records a delta per trial at once; and a fleet at full speed records
// thousands a second, which a search's watchers read five times a second
// (10,000 made such a read 2-11 ms, the costliest statement of a watched
// run). A fold costs about what a read of the same deltas does.
constexpr int kFoldAtDeltas = 1000;

// Deltas a concurrent transaction commits meanwhile are not in this
// statement's snapshot: DELETE ... RETURNING moves only the rows it saw,
// and the next fold takes the rest. Deltas of a search deleted meanwhile
// (recorded after its delete trigger dropped its rows) are dropped here.
constexpr char kFoldSql[] =
    "WITH moved AS (DELETE FROM trial_count_deltas "
    "RETURNING search_id, kind, state, delta), "
    "folded AS (INSERT INTO trial_counts AS c (search_id, kind, state, n) "
    "SELECT m.search_id, m.kind, m.state, sum(m.delta) FROM moved m "
    "WHERE EXISTS (SELECT 1 FROM searches s WHERE s.id = m.search_id) "
    "GROUP BY m.search_id, m.kind, m.state HAVING sum(m.delta) <> 0 "
    "ON CONFLICT (search_id, kind, state) DO UPDATE SET n = c.n + EXCLUDED.n) "
    "SELECT count(*)::integer FROM moved";

}  // namespace

int LoadCounts(pqxx::transaction_base& tx,
               std::vector<nas::v1::Search>* searches) {
  if (searches->empty()) return 0;
  std::vector<int64_t> ids;
  std::map<int64_t, nas::v1::Search*> by_id;
  for (nas::v1::Search& search : *searches) {
    ids.push_back(search.id());
    by_id[search.id()] = &search;
    search.mutable_counts();  // present even when all are zero
  }
  // One statement, so one snapshot: a fold commits both tables at once.
  const pqxx::result rows = ExecPrepared(
      tx,
      "SELECT search_id, kind, state, sum(n)::integer AS n, "
      "count(*) FILTER (WHERE is_delta)::integer AS deltas FROM ("
      "SELECT search_id, kind, state, n, false AS is_delta FROM trial_counts "
      "WHERE search_id = ANY($1::bigint[]) UNION ALL "
      "SELECT search_id, kind, state, delta, true FROM trial_count_deltas "
      "WHERE search_id = ANY($1::bigint[])) c "
      "GROUP BY search_id, kind, state",
      Int64ArrayLiteral(ids));
  // kind_counts lists kinds in TrialKind number order (the std::map below),
  // not in the order their text sorts.
  std::map<int64_t, std::map<int, nas::v1::TrialCounts>> by_kind;
  int deltas = 0;
  for (const pqxx::row& row : rows) {
    deltas += row["deltas"].as<int>();
    const int32_t n = row["n"].as<int32_t>();
    // Trials that left a state leave a zero behind, which a count(*) of
    // the trials would not list: a kind is listed once it has trials.
    if (n == 0) continue;
    const int64_t search_id = row["search_id"].as<int64_t>();
    AddCount(row["state"].c_str(), n, by_id[search_id]->mutable_counts());
    AddCount(row["state"].c_str(), n,
             &by_kind[search_id][TrialKindFromName(row["kind"].c_str())]);
  }
  for (auto& [search_id, kinds] : by_kind) {
    for (auto& [kind, counts] : kinds) {
      nas::v1::KindCounts* entry = by_id[search_id]->add_kind_counts();
      entry->set_kind(static_cast<nas::v1::TrialKind>(kind));
      *entry->mutable_counts() = std::move(counts);
    }
  }
  return deltas;
}

int FoldCounts(pqxx::work& tx) {
  // One fold at a time (two would wait on each other's rows), and none
  // while a search's delete trigger drops its counts.
  if (!ExecPrepared1(tx, "SELECT pg_try_advisory_xact_lock($1)",
                     kTrialCountsLockKey)[0]
           .as<bool>()) {
    return 0;
  }
  return ExecPrepared1(tx, kFoldSql)[0].as<int>();
}

void LoadCountsAndFoldIfMany(pqxx::work& tx,
                             std::vector<nas::v1::Search>* searches) {
  if (LoadCounts(tx, searches) < kFoldAtDeltas) return;
  FoldCounts(tx);
  tx.commit();
}

absl::StatusOr<int> PostgresStore::FoldTrialCounts() {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<int> {
    const int folded = FoldCounts(tx);
    tx.commit();
    return folded;
  });
}

}  // namespace nas::controller
