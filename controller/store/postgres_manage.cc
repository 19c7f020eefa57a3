// PostgresStore: managing searches once submitted (extend, delete,
// archive). Each call locks the search row first, like CancelSearch, so it
// is serialized with strategy steps (AddTrials) and completion.
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "controller/store/postgres_store_impl.h"
#include "controller/store/proto_rows.h"

namespace nas::controller {

absl::StatusOr<nas::v1::Search> PostgresStore::ExtendSearch(
    int64_t search_id, int32_t max_trials) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<nas::v1::Search> {
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, search_id, /*lock=*/true);
    if (!search.ok()) return search;
    if (search->state() == nas::v1::SEARCH_STATE_CANCELLED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id,
          " was cancelled, which is final; submit a new search (and enqueue "
          "this one's best architectures into it) instead"));
    }
    const int32_t current = search->spec().budget().max_trials();
    if (max_trials <= current) {
      return absl::InvalidArgumentError(absl::StrCat(
          "max_trials: ", max_trials, " is not larger than search ", search_id,
          "'s current max_trials ", current));
    }
    nas::v1::SearchSpec spec = search->spec();
    spec.mutable_budget()->set_max_trials(max_trials);
    absl::StatusOr<std::string> json = ToJson(spec);
    if (!json.ok()) return json.status();
    if (search->state() == nas::v1::SEARCH_STATE_RUNNING) {
      // A running search keeps its state_reason: it may still hold.
      tx.exec_params0(
          "UPDATE searches SET spec = $2::jsonb, max_trials = $3 "
          "WHERE id = $1",
          search_id, *json, max_trials);
    } else {
      // COMPLETED or FAILED: running again, so the old ending's reason and
      // time no longer describe it, and a running search is never archived.
      tx.exec_params0(
          "UPDATE searches SET spec = $2::jsonb, max_trials = $3, "
          "state = 'RUNNING', state_reason = '', finished_at = NULL, "
          "archived_at = NULL WHERE id = $1",
          search_id, *json, max_trials);
    }
    search = LoadSearch(tx, search_id, /*lock=*/false);
    if (search.ok()) tx.commit();
    return search;
  });
}

absl::StatusOr<TrialStore::DeletedSearch> PostgresStore::DeleteSearch(
    int64_t search_id, bool force) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<DeletedSearch> {
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, search_id, /*lock=*/true);
    if (!search.ok()) return search.status();
    if (search->state() == nas::v1::SEARCH_STATE_RUNNING) {
      if (!force) {
        return absl::FailedPreconditionError(absl::StrCat(
            "search ", search_id,
            " is RUNNING; cancel it first, or delete with force (nasctl "
            "delete --force) to cancel and delete it at once"));
      }
      // Nothing of it survives this transaction, so the cancellation is
      // only what the caller reports; workers training its trials find
      // them gone at their next report and abandon them.
      search->set_state(nas::v1::SEARCH_STATE_CANCELLED);
    }
    DeletedSearch deleted;
    // trials and trial_epochs go with it: ON DELETE CASCADE.
    const pqxx::row count = tx.exec_params1(
        "SELECT count(*)::integer FROM trials WHERE search_id = $1", search_id);
    deleted.deleted_trials = count[0].as<int>();
    tx.exec_params0("DELETE FROM searches WHERE id = $1", search_id);
    tx.commit();
    deleted.search = *std::move(search);
    return deleted;
  });
}

absl::StatusOr<nas::v1::Search> PostgresStore::SetSearchArchived(
    int64_t search_id, bool archived) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::StatusOr<nas::v1::Search> {
    absl::StatusOr<nas::v1::Search> search =
        LoadSearch(tx, search_id, /*lock=*/true);
    if (!search.ok()) return search;
    if (archived && search->state() == nas::v1::SEARCH_STATE_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "search ", search_id,
          " is RUNNING; only a finished search can be archived (cancel it or "
          "let it finish first)"));
    }
    // coalesce keeps the first archiving time when archived twice.
    tx.exec_params0(
        "UPDATE searches SET archived_at = CASE WHEN $2 "
        "THEN coalesce(archived_at, now()) END WHERE id = $1",
        search_id, archived);
    search = LoadSearch(tx, search_id, /*lock=*/false);
    if (search.ok()) tx.commit();
    return search;
  });
}

}  // namespace nas::controller
