// Query plans of the statements a running search repeats. The store
// prepares its statements; after a few calls PostgreSQL may run them on a
// generic plan, built without the parameters' values. A generic plan that
// scans a table costs more with every trial the database holds, so these
// tests force generic plans on a long history and read the plan.
#include <string>

#include "controller/store/postgres_store_impl.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

class PostgresPlansTest : public StoreTest {
 protected:
  // One search with `trials` trials numbered from 0, the last `open` of
  // them running, as a search deep into its run: rows as wide as real
  // ones (an architecture's text), in no particular order on disk (each
  // state change writes a trial's row anew, elsewhere in the table).
  void FillSearch(int trials, int open) {
    db().Query(
        "INSERT INTO searches (id, spec, max_trials, parallelism, "
        "max_attempts, objective_metric, objective_direction) VALUES (1, "
        "'{}', 1000000, 64, 3, 'val_accuracy', 'MAXIMIZE')");
    db().Query(
        "INSERT INTO trials (search_id, number, arch_text, state, attempt, "
        "worker_id, lease_expires_at) SELECT 1, n, repeat('conv3x3-', 40), "
        "CASE WHEN n < " +
        std::to_string(trials - open) +
        " THEN 'COMPLETED' ELSE 'RUNNING' END, 1, 'w-1', CASE WHEN n < " +
        std::to_string(trials - open) +
        " THEN NULL ELSE now() + interval '1 hour' END "
        "FROM generate_series(0, " +
        std::to_string(trials - 1) + ") n ORDER BY random()");
    db().Query("ANALYZE trials");
  }

  // The plan of `sql` run as a prepared statement on a generic plan, with
  // `arguments` (SQL literals, in parentheses).
  std::string GenericPlan(const std::string& sql,
                          const std::string& arguments) {
    // The same connection runs every Query, so the session keeps both.
    db().Query("SET plan_cache_mode = force_generic_plan");
    db().Query("PREPARE checked AS " + sql);
    std::string plan;
    for (const pqxx::row& row :
         db().Query("EXPLAIN EXECUTE checked" + arguments)) {
      plan += row[0].as<std::string>() + "\n";
    }
    return plan;
  }
};

// The strategy's refresh (ListChangedTrials) after 20,000 trials: the new
// ones and the watched ones both through the (search_id, number) index.
// Before, the generic plan read every row of trials.
TEST_F(PostgresPlansTest, ChangedTrialsReadALongHistoryThroughTheIndex) {
  FillSearch(/*trials=*/20000, /*open=*/64);
  const std::string plan = GenericPlan(ListChangedTrialsSql(),
                                       "(1, 19990, '{19936,19937}'::integer[], "
                                       "'{RUNNING,PENDING}'::text[], 1000)");
  EXPECT_EQ(plan.find("Seq Scan on trials"), std::string::npos) << plan;
  EXPECT_NE(plan.find("trials_search_id_number_key"), std::string::npos)
      << plan;
}

}  // namespace
}  // namespace nas::controller::testing
