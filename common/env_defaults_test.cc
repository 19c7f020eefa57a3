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

}  // namespace
}  // namespace nas
