#include "common/net/host_port.h"

#include "gtest/gtest.h"

namespace nas::net {
namespace {

TEST(ParseHostPort, AcceptsHostAndPort) {
  absl::StatusOr<HostPort> a =
      ParseHostPort("127.0.0.1:50051", PortUse::kConnect, "--controller");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 50051);
  absl::StatusOr<HostPort> v6 =
      ParseHostPort("[::1]:65535", PortUse::kConnect, "--controller");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  EXPECT_TRUE(ParseHostPort("localhost:1", PortUse::kConnect, "x").ok());
}

TEST(ParseHostPort, PortZeroOnlyForListening) {
  EXPECT_TRUE(ParseHostPort("127.0.0.1:0", PortUse::kListen, "--listen").ok());
  absl::Status s =
      ParseHostPort("127.0.0.1:0", PortUse::kConnect, "--controller").status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("out of range 1..65535"), absl::string_view::npos)
      << s;
}

TEST(ParseHostPort, RefusesBadPortsNamingTheFlag) {
  for (const char* bad :
       {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1",
        "127.0.0.1:", "127.0.0.1:http", ":50051", "[::1]50051", "[::1",
        "::1:50051", "127.0.0.1:0000050051", ""}) {
    absl::Status s = ParseHostPort(bad, PortUse::kListen, "--listen").status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad << ": " << s;
    EXPECT_NE(s.message().find("--listen: \""), absl::string_view::npos)
        << bad << ": " << s;
    EXPECT_NE(s.message().find("expected HOST:PORT"), absl::string_view::npos)
        << s;
  }
}

TEST(ValidateClientTarget, ChecksPlainAddressesAndPassesUriTargets) {
  EXPECT_TRUE(ValidateClientTarget("127.0.0.1:50051", "--controller").ok());
  EXPECT_TRUE(ValidateClientTarget("dns:///ctl.example:443", "x").ok());
  EXPECT_TRUE(ValidateClientTarget("unix:/tmp/nas.sock", "x").ok());
  EXPECT_TRUE(ValidateClientTarget("ipv4:127.0.0.1:50051", "x").ok());
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999",
                          "localhost:abc", "controller"}) {
    absl::Status s = ValidateClientTarget(bad, "--controller");
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << bad << ": " << s;
  }
}

}  // namespace
}  // namespace nas::net
