#include "controller/security/token_table.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

constexpr char kValid[] = R"(# name role token
alice  client  alice-token-0123456789
w1     worker  worker-token-0123456789   # trailing comment
prom   monitor prom-token-0123456789

root	admin	root-token-0123456789
)";

TEST(TokenTableTest, ParsesNamesRolesAndComments) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kValid);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 4u);
  std::optional<Caller> alice = table->Find("alice-token-0123456789");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, Role::kClient);
  EXPECT_EQ(table->Find("worker-token-0123456789")->role, Role::kWorker);
  EXPECT_EQ(table->Find("root-token-0123456789")->role, Role::kAdmin);
  EXPECT_EQ(table->Find("prom-token-0123456789")->role, Role::kMonitor);
  EXPECT_EQ(RoleName(Role::kMonitor), "monitor");
}

TEST(TokenTableTest, UnknownPrefixAndEmptyTokensAreNotFound) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kValid);
  ASSERT_TRUE(table.ok());
  EXPECT_FALSE(table->Find("").has_value());
  EXPECT_FALSE(table->Find("alice-token-012345678").has_value());
  EXPECT_FALSE(table->Find("alice-token-01234567890").has_value());
  EXPECT_FALSE(table->Find("alice").has_value());
}

struct BadCase {
  const char* text;
  const char* expected;  // in the message
};

TEST(TokenTableTest, RejectsMalformedFilesWithLineNumbers) {
  const BadCase cases[] = {
      {"a client\n", "line 1: expected"},
      {"# c\na client tok-0123456789abcdef extra\n", "line 2: expected"},
      {"a superuser tok-0123456789abcdef\n", "line 1: role \"superuser\""},
      {"a client short\n", "shorter than 16"},
      {"a client tok-0123456789abcdef\na worker tok-fedcba9876543210\n",
       "line 2: name \"a\" appears twice"},
      {"a client tok-0123456789abcdef\nb worker tok-0123456789abcdef\n",
       "line 2: token already given"},
      {"# only comments\n\n", "no tokens"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<TokenTable> table = TokenTable::Parse(c.text);
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(table.status().message(), c.expected))
        << table.status() << " for " << c.text;
    // Errors never echo a token.
    EXPECT_FALSE(absl::StrContains(table.status().message(), "tok-"))
        << table.status();
  }
}

TEST(TokenTableTest, MissingFileIsNotFound) {
  absl::StatusOr<TokenTable> table = TokenTable::Load("/nonexistent/tokens");
  EXPECT_EQ(table.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nas::controller
