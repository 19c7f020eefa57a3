// The dashboard in a real browser: headless Chromium loads the pages of a
// real search (real controller, PostgreSQL and tabular worker processes),
// and the test reads the DOM it built: one point per completed trial, the
// best value GetBestTrials reports, a page that refreshes itself while the
// search runs; then a screenshot. Without tokens that is plain HTTP on
// loopback; with tokens, the sign-in form, its cookie and ownership.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/subprocess.h"
#include "tests/test_certs.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kTablePath[] = NAS_NB201_TABLE;

constexpr char kSearch[] = R"(
name: dashboard-nb201
seed: 9
dataset: {name: cifar10}
space: {nb201: {}}
strategy: {evolution: {}}
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 30, parallelism: 4, max_attempts: 2}
training: {epochs: 1}
)";

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The text between `open` and the next '<' after it.
std::string TextAfter(const std::string& html, const std::string& open) {
  const size_t at = html.find(open);
  if (at == std::string::npos) return "";
  const size_t start = at + open.size();
  return html.substr(start, html.find('<', start) - start);
}

// Runs headless Chromium on `url`: the DOM after its scripts ran for
// `virtual_ms` of (virtual) time, or a screenshot when `screenshot` is set.
std::string Chromium(const std::string& url, const std::string& dir,
                     int virtual_ms, const std::string& screenshot = "") {
  static int runs = 0;
  const std::string out = absl::StrCat(dir, "/chromium-", runs, ".html");
  const std::string err = absl::StrCat(dir, "/chromium-", runs, ".log");
  const std::string profile = absl::StrCat(dir, "/chromium-profile-", runs++);
  std::string command = absl::StrCat(
      "timeout 90 chromium --headless --no-sandbox --disable-gpu "
      "--disable-dev-shm-usage --no-first-run --user-data-dir=",
      profile, " --virtual-time-budget=", virtual_ms, " ");
  if (screenshot.empty()) {
    absl::StrAppend(&command, "--dump-dom '", url, "' >", out, " 2>", err);
  } else {
    absl::StrAppend(&command, "--window-size=1280,1500 --screenshot=",
                    screenshot, " '", url, "' >", out, " 2>", err);
  }
  const int rc = std::system(command.c_str());
  std::ifstream in(out);
  std::stringstream dom;
  dom << in.rdbuf();
  if (rc != 0) {
    std::ifstream log(err);
    std::stringstream text;
    text << log.rdbuf();
    ADD_FAILURE() << "chromium exited with " << rc << " for " << url << ": "
                  << text.str();
  }
  return dom.str();
}

bool HaveChromium() { return std::system("command -v chromium >/dev/null") == 0; }

ClusterOptions WithHttp() {
  ClusterOptions options;
  options.controller_flags = {"--http_listen=127.0.0.1:0"};
  return options;
}

TEST(DashboardBrowser, ShowsEveryCompletedTrialAndTheBestOfNasctlBest) {
  ASSERT_TRUE(HaveChromium())
      << "chromium is not installed (scripts/install_deps.sh installs it)";
  Cluster cluster(WithHttp());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  cluster.StartWorkersWith(2, {std::string("--table=") + kTablePath});
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(cluster, ParseSpec(kSearch), &search));
  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster.search(), search.id(), 1, &best).ok());
  ASSERT_EQ(best.trials_size(), 1);

  const std::string base = absl::StrCat("http://127.0.0.1:", port);
  const std::string page = absl::StrCat(base, "/searches/", search.id());
  const std::string dom = Chromium(page, cluster.log_dir(), 1000);
  // One circle per completed trial in the objective chart, one table row
  // per trial.
  EXPECT_EQ(Count(dom, "class=\"point completed\""),
            search.counts().completed())
      << dom;
  EXPECT_EQ(search.counts().completed(), 30);
  EXPECT_EQ(Count(dom, "class=\"trial\""), 30) << dom;
  EXPECT_EQ(TextAfter(dom, "<b id=\"state\" class=\"state-COMPLETED\">"),
            "COMPLETED")
      << dom;
  double shown = 0;
  ASSERT_TRUE(absl::SimpleAtod(TextAfter(dom, "<span id=\"best-value\">"),
                               &shown))
      << dom;
  EXPECT_NEAR(shown, best.trials(0).metrics().val_accuracy(), 1e-5) << dom;
  EXPECT_EQ(TextAfter(dom, "id=\"best-trial\">"),
            absl::StrCat("#", best.trials(0).number()))
      << dom;
  EXPECT_EQ(Count(dom, "class=\"series best-so-far\""), 1) << dom;

  const std::string list = Chromium(base + "/", cluster.log_dir(), 500);
  EXPECT_TRUE(absl::StrContains(
      list, absl::StrCat("data-search=\"", search.id(), "\"")))
      << list;
  EXPECT_TRUE(absl::StrContains(list, "dashboard-nb201")) << list;

  // nasctl plot draws the same chart into a file.
  const std::string svg_path = cluster.log_dir() + "/search.svg";
  Subprocess nasctl({NAS_NASCTL_BINARY, "--plaintext", "--controller",
                     cluster.address(), "plot", absl::StrCat(search.id()),
                     "-o", svg_path},
                    cluster.log_dir() + "/nasctl-plot.log");
  ASSERT_EQ(nasctl.Wait(seconds(60)), 0) << nasctl.ReadLog();
  std::ifstream svg_file(svg_path);
  std::stringstream svg;
  svg << svg_file.rdbuf();
  EXPECT_EQ(Count(svg.str(), "class=\"point completed\""), 30) << svg.str();
  EXPECT_TRUE(absl::StartsWith(svg.str(), "<svg ")) << svg.str();
  Subprocess as_png({NAS_NASCTL_BINARY, "--plaintext", "--controller",
                  cluster.address(), "plot", absl::StrCat(search.id()), "-o",
                  cluster.log_dir() + "/search.png"},
                 cluster.log_dir() + "/nasctl-png.log");
  ASSERT_EQ(as_png.Wait(seconds(60)), 0) << as_png.ReadLog();
  {
    // A PNG of twice the SVG's size (its IHDR chunk), with a chart on it.
    std::ifstream png_file(cluster.log_dir() + "/search.png", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(png_file)),
                            std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 24u);
    EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
    auto be32 = [&](size_t at) {
      uint32_t v = 0;
      for (size_t i = 0; i < 4; ++i) v = v << 8 | uint8_t(bytes[at + i]);
      return v;
    };
    const size_t width_at = svg.str().find("width=\"") + 7;
    const int svg_width = std::stoi(svg.str().substr(width_at));
    EXPECT_EQ(be32(16), 2u * svg_width);
    EXPECT_GT(bytes.size(), 10000u) << "a blank chart is smaller";
  }
  Subprocess as_gif({NAS_NASCTL_BINARY, "--plaintext", "--controller",
                     cluster.address(), "plot", absl::StrCat(search.id()), "-o",
                     cluster.log_dir() + "/search.gif"},
                    cluster.log_dir() + "/nasctl-gif.log");
  EXPECT_EQ(as_gif.Wait(seconds(60)), 2) << as_gif.ReadLog();
  EXPECT_TRUE(absl::StrContains(as_gif.ReadLog(), "FILE.png"))
      << as_gif.ReadLog();
  Subprocess pareto({NAS_NASCTL_BINARY, "--plaintext", "--controller",
                     cluster.address(), "plot", absl::StrCat(search.id()),
                     "-o", svg_path, "--chart", "pareto"},
                    cluster.log_dir() + "/nasctl-pareto.log");
  EXPECT_EQ(pareto.Wait(seconds(60)), 2) << pareto.ReadLog();
  EXPECT_TRUE(absl::StrContains(pareto.ReadLog(), "it needs two"))
      << pareto.ReadLog();

  // A screenshot for people (docs/dashboard.png comes from this run).
  const std::string png = cluster.log_dir() + "/dashboard.png";
  Chromium(page, cluster.log_dir(), 500, png);
  struct stat info {};
  ASSERT_EQ(stat(png.c_str(), &info), 0) << png;
  EXPECT_GT(info.st_size, 20000) << "a blank page is smaller";
  if (const char* keep = std::getenv("NAS_DASHBOARD_SCREENSHOT")) {
    std::ifstream from(png, std::ios::binary);
    std::ofstream(keep, std::ios::binary) << from.rdbuf();
  }
}

TEST(DashboardBrowser, APageRefreshesItselfWhileTheSearchRuns) {
  ASSERT_TRUE(HaveChromium());
  Cluster cluster(WithHttp());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  const int64_t id = CreateSearchOrFail(cluster.search(), ParseSpec(kSearch));
  // One trial completed by hand; the search keeps running.
  const std::string worker =
      RegisterWorkerOrFail(cluster.worker_api(), "dashboard-test");
  nas::v1::TrialAssignment a =
      AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
  ASSERT_TRUE(CompleteTrial(cluster.worker_api(), worker, a, 0.875).ok());

  const std::string page = absl::StrCat("http://127.0.0.1:", port,
                                        "/searches/", id);
  // Five seconds of the page's clock: its script polls the fragment (every
  // 2 s) and swaps it in, counting how often.
  const std::string dom = Chromium(page, cluster.log_dir(), 5000);
  EXPECT_EQ(Count(dom, "class=\"point completed\""), 1) << dom;
  EXPECT_TRUE(absl::StrContains(dom, "data-state=\"RUNNING\"")) << dom;
  int refreshed = 0;
  ASSERT_TRUE(absl::SimpleAtoi(TextAfter(dom, "data-refreshed=\"")
                                   .substr(0, TextAfter(dom, "data-refreshed=\"")
                                                  .find('"')),
                               &refreshed))
      << "the page never refreshed itself: " << dom;
  EXPECT_GE(refreshed, 1) << dom;

  // The fragment is the <main> element alone, with the current state.
  httplib::Client client("127.0.0.1", port);
  httplib::Result fragment =
      client.Get(absl::StrCat("/searches/", id, "?fragment=1").c_str());
  ASSERT_TRUE(fragment);
  EXPECT_EQ(fragment->status, 200);
  EXPECT_TRUE(absl::StartsWith(fragment->body, "<main id=\"search\""))
      << fragment->body;
  EXPECT_FALSE(absl::StrContains(fragment->body, "<html")) << fragment->body;

  httplib::Result missing = client.Get("/searches/987654321");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

class DashboardAuthTest : public ::testing::Test {
 protected:
  static constexpr char kAlice[] = "alice-secret-token-0001";
  static constexpr char kBob[] = "bob-secret-token-00002";
  static constexpr char kMonitor[] = "monitor-secret-token-03";
  static constexpr char kAdmin[] = "admin-secret-token-0004";

  void SetUp() override {
    char tmpl[] = "/tmp/nas-dash-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string error;
    ASSERT_TRUE(MakeTestCerts(dir_, &certs_, &error)) << error;
    tokens_ = dir_ + "/tokens";
    std::ofstream(tokens_) << "alice client " << kAlice << "\nbob client "
                           << kBob << "\nprom monitor " << kMonitor
                           << "\nroot admin " << kAdmin << "\n";
  }

  nas::client::ChannelSecurity As(const std::string& token) const {
    nas::client::ChannelSecurity security;
    security.tls_ca = certs_.ca;
    security.token = token;
    return security;
  }

  std::string dir_;
  TestCerts certs_;
  std::string tokens_;
};

TEST_F(DashboardAuthTest, SignInSetsACookieAndEachClientSeesOnlyItsOwn) {
  ClusterOptions options;
  options.controller_flags = {"--tls_cert=" + certs_.server_cert,
                              "--tls_key=" + certs_.server_key,
                              "--auth_tokens_file=" + tokens_,
                              "--http_listen=127.0.0.1:0"};
  options.client_security = As(kAdmin);
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  auto create_as = [&](const char* token) {
    auto stub = nas::v1::SearchService::NewStub(cluster.Channel(As(token)));
    nas::v1::Search search;
    EXPECT_TRUE(CreateSearch(*stub, ParseSpec(kSearch), &search).ok());
    return search.id();
  };
  const int64_t alices = create_as(kAlice);
  const int64_t bobs = create_as(kBob);

  httplib::SSLClient client("127.0.0.1", port);
  client.set_ca_cert_path(certs_.ca.c_str());
  client.enable_server_certificate_verification(true);

  httplib::Result anonymous = client.Get("/");
  ASSERT_TRUE(anonymous) << httplib::to_string(anonymous.error());
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_TRUE(absl::StrContains(anonymous->body, "action=\"/login\""))
      << anonymous->body;

  httplib::Result wrong = client.Post("/login", "token=not-a-token-at-all",
                                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(wrong->has_header("Set-Cookie"));

  httplib::Result monitor = client.Post(
      "/login", absl::StrCat("token=", kMonitor),
      "application/x-www-form-urlencoded");
  ASSERT_TRUE(monitor);
  EXPECT_EQ(monitor->status, 403) << monitor->body;

  httplib::Result signed_in = client.Post(
      "/login", absl::StrCat("token=", kAlice),
      "application/x-www-form-urlencoded");
  ASSERT_TRUE(signed_in);
  EXPECT_EQ(signed_in->status, 303);
  const std::string cookie = signed_in->get_header_value("Set-Cookie");
  EXPECT_TRUE(absl::StrContains(cookie, "HttpOnly")) << cookie;
  EXPECT_TRUE(absl::StrContains(cookie, "Secure")) << cookie;
  EXPECT_FALSE(absl::StrContains(cookie, kAlice)) << "stored encoded";
  const httplib::Headers as_alice = {
      {"Cookie", cookie.substr(0, cookie.find(';'))}};

  httplib::Result list = client.Get("/", as_alice);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_TRUE(absl::StrContains(list->body,
                                absl::StrCat("data-search=\"", alices, "\"")));
  EXPECT_FALSE(absl::StrContains(list->body,
                                 absl::StrCat("data-search=\"", bobs, "\"")))
      << list->body;
  httplib::Result own =
      client.Get(absl::StrCat("/searches/", alices).c_str(), as_alice);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200);
  httplib::Result others =
      client.Get(absl::StrCat("/searches/", bobs).c_str(), as_alice);
  ASSERT_TRUE(others);
  EXPECT_EQ(others->status, 404) << "as the API: others' searches look absent";

  // An admin's bearer header works as well as a cookie, and sees both.
  httplib::Result admin =
      client.Get("/", {{"Authorization", absl::StrCat("Bearer ", kAdmin)}});
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200);
  EXPECT_TRUE(absl::StrContains(admin->body,
                                absl::StrCat("data-search=\"", bobs, "\"")));
}

}  // namespace
}  // namespace nas::testing
