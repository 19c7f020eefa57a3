#include "controller/store/pg_pool.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "libpq-fe.h"

namespace nas::controller {
namespace {

bool IsConnectionLossState(const std::string& sqlstate) {
  // Class 08: connection exception. 57P01..57P03: the server is shutting
  // down, crashed or not yet accepting connections. 53300: too many
  // connections.
  return absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" ||
         sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300";
}

// libpq messages span lines ("...failed: Connection refused\n\tIs the
// server running..."); a status message reads better on one.
std::string Trimmed(const char* what) {
  std::string message(absl::StripAsciiWhitespace(what));
  absl::StrReplaceAll({{"\n\t", " "}, {"\n", " "}}, &message);
  return message;
}

}  // namespace

absl::Status StatusFromCurrentException(bool* connection_lost) {
  *connection_lost = false;
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    *connection_lost = true;
    return absl::UnavailableError(
        absl::StrCat("database connection lost: ", Trimmed(e.what())));
  } catch (const pqxx::in_doubt_error& e) {
    *connection_lost = true;
    return absl::UnavailableError(absl::StrCat(
        "database connection lost during commit; the outcome is unknown: ",
        Trimmed(e.what())));
  } catch (const pqxx::statement_completion_unknown& e) {
    *connection_lost = true;
    return absl::UnavailableError(absl::StrCat(
        "database statement outcome unknown: ", Trimmed(e.what())));
  } catch (const pqxx::transaction_rollback& e) {
    // serialization_failure (40001), deadlock_detected (40P01) and friends.
    return absl::AbortedError(
        absl::StrCat("concurrent update, retry: ", Trimmed(e.what())));
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    if (state == "23505") {
      return absl::AlreadyExistsError(Trimmed(e.what()));
    }
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError(
          absl::StrCat("concurrent update, retry: ", Trimmed(e.what())));
    }
    if (IsConnectionLossState(state)) {
      *connection_lost = true;
      return absl::UnavailableError(
          absl::StrCat("database unavailable: ", Trimmed(e.what())));
    }
    return absl::InternalError(absl::StrCat("database error (SQLSTATE ", state,
                                            "): ", Trimmed(e.what())));
  } catch (const pqxx::failure& e) {
    // A libpq-level failure without an SQLSTATE; the connection's state is
    // unknown, so it is not reused.
    *connection_lost = true;
    return absl::InternalError(
        absl::StrCat("database failure: ", Trimmed(e.what())));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("store error: ", Trimmed(e.what())));
  } catch (...) {
    return absl::InternalError("store error: unknown exception");
  }
}

namespace {

// The password libpq would use from `url`, or "" (none, or unparsable).
std::string PasswordOf(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return "";
  std::string password;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "password" && o->val != nullptr) {
      password = o->val;
    }
  }
  PQconninfoFree(options);
  return password;
}

}  // namespace

absl::Status CheckDatabaseUrl(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return absl::OkStatus();
  }
  std::string reason = error != nullptr ? Trimmed(error) : "out of memory";
  if (error != nullptr) PQfreemem(error);
  return absl::InvalidArgumentError(
      absl::StrCat("database URL \"", RedactedDatabaseUrl(url),
                   "\" is malformed: ", WithoutPassword(url, reason),
                   "; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"));
}

std::string RedactedDatabaseUrl(const std::string& url) {
  std::string redacted = url;
  const size_t scheme_end = redacted.find("://");
  if (scheme_end != std::string::npos) {
    // postgresql://user:password@host...: the user info ends at the last
    // '@' before the path.
    const size_t authority = scheme_end + 3;
    const size_t path = redacted.find_first_of("/?", authority);
    const size_t at = redacted.rfind(
        '@', path == std::string::npos ? std::string::npos : path);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = redacted.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        redacted.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // password=... as a URI query parameter or a key=value pair.
  for (size_t pos = redacted.find("password="); pos != std::string::npos;
       pos = redacted.find("password=", pos + 1)) {
    const size_t value = pos + 9;
    size_t end = redacted.find_first_of("& ", value);
    if (end == std::string::npos) end = redacted.size();
    redacted.replace(value, end - value, "***");
  }
  return redacted;
}

std::string WithoutPassword(const std::string& url, std::string message) {
  const std::string password = PasswordOf(url);
  if (password.size() >= 4) {
    absl::StrReplaceAll({{password, "***"}}, &message);
  }
  return message;
}

std::string WithConnectTimeout(const std::string& url, int seconds) {
  const bool is_uri = absl::StartsWith(url, "postgresql://") ||
                      absl::StartsWith(url, "postgres://");
  if (absl::StrContains(url, "connect_timeout")) return url;
  if (is_uri) {
    return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                        "connect_timeout=", seconds);
  }
  return absl::StrCat(url, " connect_timeout=", seconds);
}

PgPool::PgPool(std::string url, int size) : url_(std::move(url)) {
  if (size < 1) size = 1;
  connections_.resize(size);
  for (int i = size - 1; i >= 0; --i) free_.push_back(i);
}

int PgPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  freed_.wait(lock, [this] { return !free_.empty(); });
  const int index = free_.back();
  free_.pop_back();
  return index;
}

void PgPool::Release(int index) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(index);
  }
  freed_.notify_one();
}

pqxx::connection& PgPool::Slot::Connection(bool* opened) {
  std::unique_ptr<pqxx::connection>& connection = pool_->connections_[index_];
  if (connection != nullptr && !connection->is_open()) connection.reset();
  if (opened != nullptr) *opened = connection == nullptr;
  if (connection == nullptr) {
    auto fresh = std::make_unique<pqxx::connection>(pool_->url_);
    // Keep server notices ("... already exists, skipping") off stderr.
    pqxx::nontransaction setup(*fresh);
    setup.exec0("SET client_min_messages TO warning");
    setup.commit();
    connection = std::move(fresh);
    pool_->connections_opened_.fetch_add(1, std::memory_order_relaxed);
  }
  return *connection;
}

absl::Status PgPool::Counted(absl::Status status) {
  const int code = static_cast<int>(status.code());
  if (!status.ok() && code > 0 && code < static_cast<int>(errors_.size())) {
    errors_[code].fetch_add(1, std::memory_order_relaxed);
  }
  return status;
}

DatabaseStats PgPool::stats() const {
  DatabaseStats stats;
  stats.connections_opened = connections_opened_.load();
  for (size_t code = 1; code < errors_.size(); ++code) {
    if (const int64_t n = errors_[code].load(); n > 0) {
      stats.errors[absl::StatusCodeToString(static_cast<absl::StatusCode>(
          code))] = n;
    }
  }
  return stats;
}

void PgPool::Slot::Discard() {
  std::unique_ptr<pqxx::connection>& connection = pool_->connections_[index_];
  if (connection == nullptr) return;
  try {
    connection->disconnect();
  } catch (...) {
    // Already gone; dropping it is all that is left to do.
  }
  connection.reset();
}

}  // namespace nas::controller
