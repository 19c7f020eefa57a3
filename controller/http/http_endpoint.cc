#include "controller/http/http_endpoint.h"

#include <chrono>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/net/host_port.h"
#include "httplib.h"

namespace nas::controller {
namespace {

constexpr char kPrometheusText[] = "text/plain; version=0.0.4; charset=utf-8";

constexpr char kTokenCookie[] = "nas_token";

int HttpCode(const absl::Status& status) {
  return absl::IsUnauthenticated(status) ? 401 : 403;
}

std::string Peer(const httplib::Request& req) {
  return absl::StrCat(req.remote_addr, ":", req.remote_port);
}

// The token travels hex-encoded in its cookie, so that any character a
// tokens file allows is a valid cookie value.
std::string HexToken(absl::string_view token) {
  return absl::BytesToHexString(token);
}

// "Bearer <token>" from the Authorization header, else from the cookie;
// nullopt when neither is there.
std::optional<std::string> BrowserCredentials(const httplib::Request& req) {
  if (req.has_header("Authorization")) {
    return req.get_header_value("Authorization");
  }
  const std::string cookies = req.get_header_value("Cookie");
  for (absl::string_view cookie : absl::StrSplit(cookies, ';')) {
    cookie = absl::StripAsciiWhitespace(cookie);
    if (absl::ConsumePrefix(&cookie, kTokenCookie) &&
        absl::ConsumePrefix(&cookie, "=")) {
      std::string token = absl::HexStringToBytes(cookie);
      if (HexToken(token) != absl::AsciiStrToLower(cookie)) return "";
      return absl::StrCat("Bearer ", token);
    }
  }
  return std::nullopt;
}

void Send(const Page& page, httplib::Response& res) {
  res.status = page.status;
  res.set_content(page.body, page.content_type.c_str());
}

// The address to bind, after CheckOptions' rules.
absl::StatusOr<net::HostPort> CheckedAddress(
    const std::string& listen, const ServerSecurityOptions& security) {
  absl::StatusOr<net::HostPort> address =
      net::ParseHostPort(listen, net::PortUse::kListen, "--http_listen");
  if (!address.ok()) return address.status();
  if (security.plaintext && !security.allow_remote_plaintext &&
      !IsLoopbackAddress(listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_listen ", listen,
        " is not a loopback address: plain HTTP is served only on loopback "
        "unless --allow_remote_plaintext (or serve TLS)"));
  }
  return address;
}

}  // namespace

absl::Status HttpEndpoint::CheckOptions(const std::string& listen,
                                       const ServerSecurityOptions& security) {
  return CheckedAddress(listen, security).status();
}

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(
    const std::string& listen, const ServerSecurityOptions& security,
    const Authorizer* auth, metrics::Registry* registry,
    Dashboard* dashboard) {
  absl::StatusOr<net::HostPort> address = CheckedAddress(listen, security);
  if (!address.ok()) return address.status();
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint());
  if (security.plaintext) {
    endpoint->server_ = std::make_unique<httplib::Server>();
    endpoint->scheme_ = "http";
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        security.tls_cert.c_str(), security.tls_key.c_str(),
        security.tls_client_ca.empty() ? nullptr
                                       : security.tls_client_ca.c_str());
    if (!tls->is_valid()) {
      return absl::UnavailableError(absl::StrCat(
          "--http_listen: cannot load the TLS certificate ", security.tls_cert,
          " and key ", security.tls_key, " for HTTPS"));
    }
    endpoint->server_ = std::move(tls);
    endpoint->scheme_ = "https";
  }
  httplib::Server& server = *endpoint->server_;

  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server.Get("/metrics", [auth, registry](const httplib::Request& req,
                                          httplib::Response& res) {
    // Held here: get_header_value returns a copy.
    const std::string value = req.get_header_value("Authorization");
    std::optional<absl::string_view> header;
    if (req.has_header("Authorization")) header = value;
    absl::StatusOr<Caller> caller =
        auth->AuthorizeHeader(header, Peer(req), Role::kMonitor);
    if (!caller.ok()) {
      res.status = HttpCode(caller.status());
      if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
      res.set_content(absl::StrCat(caller.status().message(), "\n"),
                      "text/plain");
      return;
    }
    res.set_content(registry->Render(), kPrometheusText);
  });

  if (dashboard != nullptr) {
    const bool https = endpoint->scheme_ == "https";
    // Runs `page` for a caller with role client (or admin); a browser
    // without a token gets the sign-in form instead.
    auto for_client = [auth](const httplib::Request& req,
                             httplib::Response& res,
                             const std::function<Page(const Caller&)>& page) {
      const std::optional<std::string> credentials = BrowserCredentials(req);
      std::optional<absl::string_view> header;
      if (credentials) header = *credentials;
      absl::StatusOr<Caller> caller =
          auth->AuthorizeHeader(header, Peer(req), Role::kClient);
      if (!caller.ok()) {
        Page refused = LoginPage(std::string(caller.status().message()));
        refused.status = HttpCode(caller.status());
        Send(refused, res);
        return;
      }
      Send(page(*caller), res);
    };
    server.Get("/", [dashboard, for_client](const httplib::Request& req,
                                            httplib::Response& res) {
      for_client(req, res, [&](const Caller& caller) {
        return dashboard->SearchList(caller);
      });
    });
    server.Get(R"(/searches/(\d{1,18}))",
               [dashboard, for_client](const httplib::Request& req,
                                       httplib::Response& res) {
                 int64_t id = 0;
                 if (!absl::SimpleAtoi(req.matches[1].str(), &id)) id = -1;
                 const bool fragment = req.has_param("fragment");
                 for_client(req, res, [&](const Caller& caller) {
                   return dashboard->Search(id, caller, fragment);
                 });
               });
    server.Post("/login", [auth, https](const httplib::Request& req,
                                        httplib::Response& res) {
      const std::string token = req.get_param_value("token");
      absl::StatusOr<Caller> caller = auth->AuthorizeHeader(
          absl::StrCat("Bearer ", token), Peer(req), Role::kClient);
      if (!caller.ok()) {
        Page refused = LoginPage(std::string(caller.status().message()));
        refused.status = HttpCode(caller.status());
        Send(refused, res);
        return;
      }
      // HttpOnly: page scripts never see it; SameSite: other sites cannot
      // make the browser send it; Secure over HTTPS.
      res.set_header("Set-Cookie",
                     absl::StrCat(kTokenCookie, "=", HexToken(token),
                                  "; Path=/; HttpOnly; SameSite=Strict",
                                  https ? "; Secure" : ""));
      res.set_redirect("/", 303);
    });
  }

  if (address->port == 0) {
    endpoint->port_ = server.bind_to_any_port(address->host);
    if (endpoint->port_ <= 0) endpoint->port_ = 0;
  } else if (server.bind_to_port(address->host, address->port)) {
    endpoint->port_ = address->port;
  }
  if (endpoint->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     " (--http_listen): the port is in use or the address "
                     "is not one of this host's"));
  }
  endpoint->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() is a no-op until the server runs, so a destructor right after
  // Start would otherwise wait forever on the thread.
  for (int i = 0; i < 2000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace nas::controller
