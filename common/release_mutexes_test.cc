#include "common/release_mutexes.h"

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace nas {
namespace {

// Two mutexes taken in both orders, one after the other: no deadlock is
// possible, but the lock-order graph holds a cycle, which Debian's Abseil
// reports and aborts on unless told not to.
TEST(ReleaseMutexesTest, AnInvertedLockOrderDoesNotAbortTheProcess) {
  UseReleaseMutexes();
  absl::Mutex a, b;
  {
    absl::MutexLock first(&a);
    absl::MutexLock second(&b);
  }
  {
    absl::MutexLock first(&b);
    absl::MutexLock second(&a);
  }
  SUCCEED();
}

}  // namespace
}  // namespace nas
