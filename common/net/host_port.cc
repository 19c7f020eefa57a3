#include "common/net/host_port.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace nas::net {
namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view address,
                     absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": \"", address, "\" ", what,
      "; expected HOST:PORT, e.g. 127.0.0.1:50051 or [::1]:50051"));
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address, PortUse use,
                                       absl::string_view flag) {
  HostPort result;
  absl::string_view port_text;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) {
      return Invalid(flag, address, "has no closing ']'");
    }
    result.host = std::string(address.substr(1, close - 1));
    absl::string_view rest = address.substr(close + 1);
    if (!absl::ConsumePrefix(&rest, ":")) {
      return Invalid(flag, address, "has no port");
    }
    port_text = rest;
  } else {
    const size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return Invalid(flag, address, "has no port");
    }
    result.host = std::string(address.substr(0, colon));
    if (absl::StrContains(result.host, ':')) {
      return Invalid(flag, address,
                     "looks like an IPv6 address without brackets");
    }
    port_text = address.substr(colon + 1);
  }
  if (result.host.empty()) return Invalid(flag, address, "has no host");
  if (port_text.empty()) return Invalid(flag, address, "has no port");
  for (char c : port_text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return Invalid(
          flag, address,
          absl::StrCat("has port \"", port_text, "\", which is not a number"));
    }
  }
  int port = 0;
  const int lowest = use == PortUse::kListen ? 0 : 1;
  if (port_text.size() > 5 || !absl::SimpleAtoi(port_text, &port) ||
      port < lowest || port > 65535) {
    return Invalid(flag, address,
                   absl::StrCat("has port ", port_text, ", out of range ",
                                lowest, "..65535"));
  }
  result.port = port;
  return result;
}

absl::Status ValidateClientTarget(absl::string_view target,
                                  absl::string_view flag) {
  // gRPC's own target syntax: a known scheme ("ipv4:1.2.3.4:5",
  // "unix:/path"), or any scheme followed by "/" ("dns:///host:port",
  // "xds:///name"). A plain "name:123" is HOST:PORT, checked below.
  const size_t colon = target.find(':');
  if (colon != absl::string_view::npos && colon > 0) {
    const absl::string_view scheme = target.substr(0, colon);
    const absl::string_view rest = target.substr(colon + 1);
    for (absl::string_view known :
         {"dns", "ipv4", "ipv6", "unix", "unix-abstract", "vsock"}) {
      if (scheme == known) return absl::OkStatus();
    }
    const bool word = std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return absl::ascii_isalpha(static_cast<unsigned char>(c));
    });
    if (word && absl::StartsWith(rest, "/")) return absl::OkStatus();
  }
  return ParseHostPort(target, PortUse::kConnect, flag).status();
}

}  // namespace nas::net
