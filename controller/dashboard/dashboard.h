// The read-only web pages of the controller's HTTP endpoint: the searches a
// caller may see, and one search with its charts (common/plot), best trial
// and trials table, refreshed while it runs. Pages are built from the store
// only; no protocol here, so they are tested without a server.
#ifndef NAS_CONTROLLER_DASHBOARD_DASHBOARD_H_
#define NAS_CONTROLLER_DASHBOARD_DASHBOARD_H_

#include <cstdint>
#include <string>

#include "controller/security/token_table.h"
#include "controller/store/trial_store.h"

namespace nas::controller {

struct Page {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};

class Dashboard {
 public:
  // `store` must outlive the dashboard.
  explicit Dashboard(TrialStore* store) : store_(store) {}

  // The newest searches `caller` may see (clients: their own; admins:
  // all), with state, progress and a link each.
  Page SearchList(const Caller& caller);
  // One search: 404 when it does not exist or `caller` may not see it (as
  // the API, so ids reveal nothing). `fragment`: only its <main> element,
  // what the page's script fetches to refresh itself while it runs.
  Page Search(int64_t search_id, const Caller& caller, bool fragment);

 private:
  TrialStore* store_;
};

// The page a browser gets before it has a token: a form that posts one to
// /login (tokens stay out of URLs and logs). `message` says why, if set.
Page LoginPage(const std::string& message);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_DASHBOARD_DASHBOARD_H_
