#include "common/release_mutexes.h"

#include "absl/synchronization/mutex.h"

namespace nas {

void UseReleaseMutexes() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace nas
