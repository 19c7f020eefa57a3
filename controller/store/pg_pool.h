// A fixed-size pool of PostgreSQL connections and the one place where
// libpqxx exceptions become absl::Status. Internal to nas_store.
#ifndef NAS_CONTROLLER_STORE_PG_POOL_H_
#define NAS_CONTROLLER_STORE_PG_POOL_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "controller/store/database_stats.h"
#include "pqxx/pqxx"

namespace nas::controller {

// Maps the exception in flight (call only inside a catch block) to a status:
// broken connection and other connection losses -> Unavailable,
// serialization failure and deadlock -> Aborted, unique violation ->
// AlreadyExists, any other error -> Internal with the server's message.
// Sets *connection_lost when the connection can no longer be used.
absl::Status StatusFromCurrentException(bool* connection_lost);

// Adds connect_timeout to a postgres:// URL that has none, so that an
// unreachable server fails a call within seconds instead of hanging.
std::string WithConnectTimeout(const std::string& url, int seconds);

// OK when libpq accepts `url` as a connection URI (postgresql://...) or a
// key=value string; otherwise InvalidArgument with libpq's reason, so that
// a typo is reported at once instead of retried like an outage.
absl::Status CheckDatabaseUrl(const std::string& url);

// `url` for logs and error messages: the password of a URI's user info
// ("postgresql://nas:***@host/db") or a password parameter
// ("password=***") masked. Best effort on malformed input.
std::string RedactedDatabaseUrl(const std::string& url);

// `message` with every occurrence of `url`'s password (when it has one of
// at least 4 characters) masked; for messages that quote the URL.
std::string WithoutPassword(const std::string& url, std::string message);

// `size` connections, each used by one thread at a time; a caller waits when
// all are busy. Connections are opened lazily and reopened on the next use
// after one was lost (e.g. the server restarted). Thread-safe.
class PgPool {
 public:
  PgPool(std::string url, int size);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs fn(pqxx::connection&) on a pooled connection and returns its
  // result; fn returns absl::Status or absl::StatusOr<T>. An exception
  // thrown by fn (or by connecting) is caught and mapped with
  // StatusFromCurrentException; nothing throws out of Run.
  template <typename Fn>
  auto Run(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>()));

  // Like Run, but fn gets a transaction (READ COMMITTED) that it commits
  // itself; returning without commit rolls it back. A pooled connection
  // found dead at BEGIN (the server restarted while it was idle) is
  // replaced once before fn runs, which is safe because nothing was sent.
  template <typename Fn>
  auto Transact(Fn&& fn) -> decltype(fn(std::declval<pqxx::work&>()));

  // For fn that only reads: its statements run without BEGIN and
  // ROLLBACK (a pqxx::nontransaction), each on its own snapshot, which is
  // all READ COMMITTED gave them inside a transaction too. Those two
  // statements were a tenth of a lifecycle's statements at a fleet's pace.
  // A connection lost before fn returned is replaced and fn runs once more:
  // nothing was written, so fn must build its result afresh on each call.
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<pqxx::transaction_base&>()));

  // For fn that writes with a single statement, which is then a
  // transaction of its own: no BEGIN and COMMIT around it (a batch of epoch
  // reports is one statement; those two were half of its round trips).
  // Retried like Read on a connection that died while idle, so the
  // statement must be safe to run twice: a connection lost after sending it
  // leaves unknown whether it ran.
  template <typename Fn>
  auto WriteOne(Fn&& fn)
      -> decltype(fn(std::declval<pqxx::transaction_base&>())) {
    return Read(std::forward<Fn>(fn));
  }

  // Counts so far; errors are those Run, Transact and Read returned, not the
  // statuses fn itself returned.
  DatabaseStats stats() const;

 private:
  // Counts `status` as a failed call and returns it.
  absl::Status Counted(absl::Status status);

  // An exclusive hold on one slot; returns it on destruction.
  class Slot {
   public:
    Slot(PgPool* pool, int index) : pool_(pool), index_(index) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { pool_->Release(index_); }
    // Opens the connection if it is not open (setting *opened when it
    // did). Throws like pqxx::connection.
    pqxx::connection& Connection(bool* opened = nullptr);
    // Drops the connection so that the next use reconnects.
    void Discard();

   private:
    PgPool* pool_;
    int index_;
  };

  int Acquire();
  void Release(int index);

  const std::string url_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<int> free_ ABSL_GUARDED_BY(mu_);  // indexes of idle slots
  // Slot i's connection is touched only by the thread holding slot i.
  std::vector<std::unique_ptr<pqxx::connection>> connections_;
  std::atomic<int64_t> connections_opened_{0};
  // By absl::StatusCode (0..16).
  std::array<std::atomic<int64_t>, 17> errors_{};
};

template <typename Fn>
auto PgPool::Run(Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
  Slot slot(this, Acquire());
  bool lost = false;
  absl::Status status;
  try {
    return fn(slot.Connection());
  } catch (...) {
    status = StatusFromCurrentException(&lost);
  }
  if (lost) slot.Discard();
  return Counted(std::move(status));
}

template <typename Fn>
auto PgPool::Transact(Fn&& fn) -> decltype(fn(std::declval<pqxx::work&>())) {
  Slot slot(this, Acquire());
  bool lost = false;
  absl::Status status;
  for (int try_number = 0; try_number < 2; ++try_number) {
    bool opened = false;
    std::unique_ptr<pqxx::work> tx;
    try {
      tx = std::make_unique<pqxx::work>(slot.Connection(&opened));
    } catch (...) {
      status = StatusFromCurrentException(&lost);
      if (!lost) return Counted(std::move(status));
      slot.Discard();
      if (!opened) continue;  // died while idle: reconnect and retry
      return Counted(std::move(status));
    }
    try {
      return fn(*tx);
    } catch (...) {
      status = StatusFromCurrentException(&lost);
    }
    tx.reset();  // rolls back (or gives up on a dead connection) first
    if (lost) slot.Discard();
    return Counted(std::move(status));
  }
  return Counted(std::move(status));
}

template <typename Fn>
auto PgPool::Read(Fn&& fn)
    -> decltype(fn(std::declval<pqxx::transaction_base&>())) {
  Slot slot(this, Acquire());
  absl::Status status;
  for (int try_number = 0; try_number < 2; ++try_number) {
    bool opened = true;  // until Connection says it reused one
    bool lost = false;
    try {
      pqxx::nontransaction tx(slot.Connection(&opened));
      return fn(tx);
    } catch (...) {
      status = StatusFromCurrentException(&lost);
    }
    if (lost) slot.Discard();
    // Only a connection that died while idle earns a second try; a fresh
    // one that failed means the server is down, and waiting for a second
    // connect timeout would not help.
    if (!lost || opened) break;
  }
  return Counted(std::move(status));
}

// Runs `sql` with `args` as a prepared statement of the transaction's
// connection, declared there on first use: the server parses and plans the
// statement once per connection instead of on every call (planning cost as
// much as executing in bench/controller's profile of a trial's lifecycle).
// `sql` must be the same text on every call from one place (no values
// spliced in), which every statement of the stores is.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& sql,
                          Args&&... args) {
  const std::string name =
      absl::StrCat("nas_", absl::Hex(std::hash<std::string>{}(sql)));
  // A no-op when the connection already has it (same name, same text).
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

// ExecPrepared for a statement that returns no rows (pqxx::unexpected_rows
// otherwise, as exec_params0).
template <typename... Args>
pqxx::result ExecPrepared0(pqxx::transaction_base& tx, const std::string& sql,
                           Args&&... args) {
  pqxx::result r = ExecPrepared(tx, sql, std::forward<Args>(args)...);
  if (!r.empty()) {
    throw pqxx::unexpected_rows(
        absl::StrCat("expected no rows, got ", r.size(), ": ", sql));
  }
  return r;
}

// ExecPrepared for a statement that returns exactly one row
// (pqxx::unexpected_rows otherwise, as exec_params1).
template <typename... Args>
pqxx::row ExecPrepared1(pqxx::transaction_base& tx, const std::string& sql,
                        Args&&... args) {
  pqxx::result r = ExecPrepared(tx, sql, std::forward<Args>(args)...);
  if (r.size() != 1) {
    throw pqxx::unexpected_rows(
        absl::StrCat("expected 1 row, got ", r.size(), ": ", sql));
  }
  return r[0];
}

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_PG_POOL_H_
