// Abseil's mutexes without their debugging checks, for the binaries' main().
#ifndef NAS_COMMON_RELEASE_MUTEXES_H_
#define NAS_COMMON_RELEASE_MUTEXES_H_

namespace nas {

// Turns off absl::Mutex deadlock detection for this process. Debian builds
// Abseil without NDEBUG, so detection is on and set to abort: every lock
// of every absl::Mutex (gRPC's own included) records the lock order in one
// process-wide graph under one global lock, and a cycle in that order
// anywhere, even one that could never deadlock, kills the process. Tests
// keep it on. Call first thing in main(), before any mutex is used.
void UseReleaseMutexes();

}  // namespace nas

#endif  // NAS_COMMON_RELEASE_MUTEXES_H_
