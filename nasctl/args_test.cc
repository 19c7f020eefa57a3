#include "nasctl/args.h"

#include "gtest/gtest.h"

namespace nas::cli {
namespace {

absl::StatusOr<Args> Parse(std::vector<const char*> words) {
  words.insert(words.begin(), "nasctl");
  return ParseArgs(static_cast<int>(words.size()), words.data(),
                   {"limit", "k", "output", "state"}, {"watch", "plaintext"});
}

TEST(CheckOptionsTest, AnOptionTheCommandDoesNotTakeIsNamed) {
  // `trials 6 --limit 5` once printed every row: --limit was parsed, then
  // ignored by a command that did not read it.
  absl::StatusOr<Args> args = Parse({"cancel", "6", "--limit", "5"});
  ASSERT_TRUE(args.ok()) << args.status();
  absl::Status checked = CheckOptions(*args, {"output"});
  EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(checked.message(),
            "unknown option --limit for \"nasctl cancel\"; it takes --output "
            "(see nasctl help cancel)");
}

TEST(CheckOptionsTest, ShortNamesAndEmptyListsReadNaturally) {
  absl::StatusOr<Args> args = Parse({"watch", "3", "-k", "2"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(CheckOptions(*args, {}).message(),
            "unknown option -k for \"nasctl watch\"; it takes none (see "
            "nasctl help watch)");
}

TEST(CheckOptionsTest, AllowedOptionsAndFlagsPass) {
  absl::StatusOr<Args> args =
      Parse({"-o", "json", "submit", "-", "--watch", "--plaintext"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->positional, std::vector<std::string>{"-"});
  EXPECT_TRUE(CheckOptions(*args, {"output", "watch", "plaintext"}).ok());
  EXPECT_FALSE(CheckOptions(*args, {"output", "plaintext"}).ok());
}

TEST(ParseArgsTest, UnknownOptionsAreRefusedAtOnce) {
  absl::StatusOr<Args> args = Parse({"searches", "--bogus"});
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().message(), "unknown option --bogus; see --help");
}

}  // namespace
}  // namespace nas::cli
