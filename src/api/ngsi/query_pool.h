// The threads that run the reads that may visit every entity of a tenant (entity queries
// that gave up on an I/O thread, type listings), with a bound on how many may wait or run
// at once: past it a read is refused (503) at once rather than queued behind minutes of
// scans that its client will have stopped waiting for.
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <utility>

#include "common/named_pool.h"

namespace zc::api::ngsi {

class QueryPool {
 public:
  // `threads` at least 1; `max_in_progress` queued and running jobs at most.
  QueryPool(size_t threads, size_t max_in_progress)
      : pool_(threads), max_in_progress_(max_in_progress) {
    NamePoolThreads(pool_, threads, "zc-query");
  }
  QueryPool(const QueryPool&) = delete;
  QueryPool& operator=(const QueryPool&) = delete;
  ~QueryPool() { Join(); }

  // Runs `job` on the pool, or returns false (and drops it) when max_in_progress are.
  template <typename Job>
  bool TryPost(Job job) {
    if (in_progress_.fetch_add(1) >= max_in_progress_) {
      in_progress_.fetch_sub(1);
      return false;
    }
    boost::asio::post(pool_, [this, job = std::move(job)]() mutable {
      job();
      in_progress_.fetch_sub(1);
    });
    return true;
  }

  size_t InProgress() const { return in_progress_.load(); }
  size_t MaxInProgress() const { return max_in_progress_; }

  // Waits for the jobs posted so far. REQUIRES: nothing posts meanwhile (the server stopped).
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  const size_t max_in_progress_;
  std::atomic<size_t> in_progress_{0};
};

}  // namespace zc::api::ngsi
