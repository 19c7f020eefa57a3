// The heartbeat of one lease: a thread that calls RenewLease every
// `interval` (a third of the lease) while the worker estimates a trial, so
// that the lease stays held however long an epoch takes.
#ifndef NAS_WORKER_LEASE_KEEPER_H_
#define NAS_WORKER_LEASE_KEEPER_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "nas/v1/worker_service.grpc.pb.h"

namespace nas::worker {

class LeaseKeeper {
 public:
  // Starts renewing the lease `request` names. `stub` must outlive this.
  LeaseKeeper(nas::v1::WorkerService::Stub* stub,
              nas::v1::RenewLeaseRequest request, absl::Duration interval);
  // Stops renewing; waits for a call in flight (bounded by its deadline).
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The controller refused a renewal: the lease expired and the trial moved
  // on. Once true, stays true; renewals stop.
  bool lost() const { return lost_.load(); }
  // The controller asked to stop the trial (its search was cancelled).
  bool stop_requested() const { return stop_.load(); }

  // A third of the lease, at least 100 ms.
  static absl::Duration IntervalFor(int lease_seconds);

 private:
  void Loop();

  nas::v1::WorkerService::Stub* const stub_;
  const nas::v1::RenewLeaseRequest request_;
  const absl::Duration interval_;
  std::atomic<bool> lost_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_LEASE_KEEPER_H_
