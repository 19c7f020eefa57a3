#include "common/env_defaults.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace nas {
namespace {

constexpr char kName[] = "NAS_ENV_DEFAULTS_TEST_VALUE";

TEST(EnvDefaults, UnsetOrEmptyGivesTheFallback) {
  unsetenv(kName);
  EXPECT_EQ(EnvOr(kName, "fallback"), "fallback");
  EXPECT_EQ(EnvIntOr(kName, 7), 7);
  EXPECT_EQ(EnvDoubleOr(kName, 0.5), 0.5);
  EXPECT_TRUE(EnvBoolOr(kName, true));
  setenv(kName, "", 1);
  EXPECT_EQ(EnvOr(kName, "fallback"), "fallback");
  EXPECT_EQ(EnvIntOr(kName, 7), 7);
  EXPECT_FALSE(EnvBoolOr(kName, false));
  unsetenv(kName);
}

TEST(EnvDefaults, SetValuesAreParsed) {
  setenv(kName, "42", 1);
  EXPECT_EQ(EnvOr(kName, "fallback"), "42");
  EXPECT_EQ(EnvIntOr(kName, 7), 42);
  EXPECT_EQ(EnvDoubleOr(kName, 0.5), 42.0);
  setenv(kName, "0.25", 1);
  EXPECT_EQ(EnvDoubleOr(kName, 0.5), 0.25);
  setenv(kName, "true", 1);
  EXPECT_TRUE(EnvBoolOr(kName, false));
  setenv(kName, "0", 1);
  EXPECT_FALSE(EnvBoolOr(kName, true));
  unsetenv(kName);
}

TEST(EnvDefaults, UnparsableValuesGiveTheFallback) {
  setenv(kName, "twelve", 1);
  EXPECT_EQ(EnvOr(kName, "fallback"), "twelve");
  EXPECT_EQ(EnvIntOr(kName, 7), 7);
  EXPECT_EQ(EnvDoubleOr(kName, 0.5), 0.5);
  EXPECT_TRUE(EnvBoolOr(kName, true));
  setenv(kName, "0.25", 1);
  EXPECT_EQ(EnvIntOr(kName, 7), 7);  // not an int
  unsetenv(kName);
}

TEST(EnvDefaults, ParseBoolAcceptsTheDocumentedWordsInAnyCase) {
  for (const char* yes : {"true", "TRUE", "True", "yes", "YES", "1"}) {
    EXPECT_EQ(ParseBool("X", yes).value_or(false), true) << yes;
  }
  for (const char* no : {"false", "FALSE", "no", "No", "0"}) {
    EXPECT_EQ(ParseBool("X", no).value_or(true), false) << no;
  }
}

TEST(EnvDefaults, ParseBoolRefusesEverythingElseNamingTheVariable) {
  for (const char* bad : {"", "on", "off", "y", "n", "t", "2", "truee", " 1"}) {
    absl::StatusOr<bool> parsed = ParseBool("NAS_PLAINTEXT", bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(),
              std::string("NAS_PLAINTEXT: expected true, false, yes, no, 1 "
                          "or 0, got \"") +
                  bad + "\"");
  }
}

TEST(EnvDefaults, EnvBoolFallsBackOnlyWhenUnsetOrEmpty) {
  unsetenv(kName);
  EXPECT_EQ(EnvBool(kName, true).value_or(false), true);
  setenv(kName, "", 1);
  EXPECT_EQ(EnvBool(kName, false).value_or(true), false);
  setenv(kName, "Yes", 1);
  EXPECT_EQ(EnvBool(kName, false).value_or(false), true);
  setenv(kName, "maybe", 1);
  EXPECT_FALSE(EnvBool(kName, false).ok());
  unsetenv(kName);
}

// Before one parser, EnvBoolOr took "y" for true (absl::SimpleAtob) while
// nasctl refused it, and a bad value went unnoticed.
TEST(EnvDefaults, EnvBoolOrFallsBackAndCheckEnvBoolsRefuses) {
  constexpr char kFlagName[] = "NAS_ENV_DEFAULTS_TEST_FLAG";
  setenv(kFlagName, "y", 1);
  EXPECT_FALSE(EnvBoolOr(kFlagName, false));
  unsetenv(kName);
  absl::Status checked = CheckEnvBools({kName, kFlagName});
  EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(checked.message().find(kFlagName), std::string::npos)
      << checked.message();
  setenv(kFlagName, "TRUE", 1);
  EXPECT_TRUE(EnvBoolOr(kFlagName, false));
  EXPECT_TRUE(CheckEnvBools({kName, kFlagName}).ok());
  unsetenv(kFlagName);
}

}  // namespace
}  // namespace nas
