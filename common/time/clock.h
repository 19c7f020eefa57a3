// The seam for "now": the controller's in-memory store, leases and their
// expiry read time through a Clock, so tests move time forward instead of
// waiting for it.
#ifndef NAS_COMMON_TIME_CLOCK_H_
#define NAS_COMMON_TIME_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nas {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;

  // The wall clock, shared; never deleted.
  static Clock* Real();
};

// A clock that moves only when told, for tests. Starts at a fixed instant
// so that runs are reproducible.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : now_(start) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

inline Clock* Clock::Real() {
  class RealClock : public Clock {
   public:
    absl::Time Now() override { return absl::Now(); }
  };
  static RealClock* const clock = new RealClock;
  return clock;
}

}  // namespace nas

#endif  // NAS_COMMON_TIME_CLOCK_H_
