// The one parser for "HOST:PORT" addresses on the command line: the
// controller's --listen and the worker's and nasctl's --controller. gRPC
// itself accepts out-of-range ports (wrapping them) and a missing port
// (trying port 0), so every binary validates here first.
#ifndef NAS_COMMON_NET_HOST_PORT_H_
#define NAS_COMMON_NET_HOST_PORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nas::net {

struct HostPort {
  std::string host;  // without brackets for IPv6, e.g. "::1"
  int port = 0;
};

// What an address is for: a server may bind port 0 (the kernel picks a free
// one); a client must name the port it connects to.
enum class PortUse { kListen, kConnect };

// Parses "HOST:PORT", "[IPV6]:PORT" (HOST a name or an IPv4 address, not
// empty). The port is decimal, 1..65535 (0..65535 for kListen).
// InvalidArgument naming `flag` and saying what to write otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address, PortUse use,
                                       absl::string_view flag);

// For gRPC client targets: a target with a URI scheme ("dns:///h:1",
// "unix:/path", "ipv4:...") is gRPC's business and passes unchecked; any
// other must parse as ParseHostPort(kConnect).
absl::Status ValidateClientTarget(absl::string_view target,
                                  absl::string_view flag);

}  // namespace nas::net

#endif  // NAS_COMMON_NET_HOST_PORT_H_
