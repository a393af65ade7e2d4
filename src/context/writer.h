// The writer: the one thread that commits to the store, with group commit.
//
// Callers Submit() a WriteBatch with a completion; the writer thread takes everything
// queued so far (up to `max_batch_rows`), merges it into one store transaction (one fsync
// for many requests), commits, then runs the completions in submission order. A
// completion therefore runs on the writer thread, after the data is durable: that is where
// the context service publishes the change to memory and to the feed.
//
// A submission may also carry a `publish` step. After a commit, the writer runs the publish
// steps of the whole group first (in order), then the group-end hook once, then the
// completions: the context service makes a group's entities visible under one exclusive
// lock this way, instead of taking it once per request.
//
// When idle, and once more at Stop, the writer thread asks the store to flush what it
// deferred (ContextStore::Flush).
//
// A failed commit (disk full, I/O error) fails every request of its group and stores none
// of it; the next group is tried afresh, so writes resume by themselves once the cause is
// gone. Failures are counted (zhicheng_writer_commit_failures_total) and logged, a long run
// of them as one line every few seconds.
//
// Thread-safety: Submit() may be called from any thread. Completions run on the writer
// thread and must be quick (no blocking I/O, no waiting on other writes).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/failure_log.h"
#include "common/metrics.h"
#include "common/result.h"
#include "context/store.h"

namespace zc::context {

struct WriterOptions {
  size_t max_batch_rows = 50000;  // rows merged into one transaction at most
  size_t max_queue = 100000;      // queued submissions; more are refused (Unavailable)
  // When nothing was queued for this long, the store may flush deferred state
  // (ContextStore::Flush(kDue)); at Stop, everything (kAll).
  std::chrono::milliseconds idle_flush_interval{1000};
};

class Writer {
 public:
  using Completion = std::function<void(Status)>;

  // `store` and `metrics` must outlive the writer. Starts the thread.
  Writer(ContextStore& store, WriterOptions options, metrics::Registry& metrics);
  // Flushes what is queued, then stops the thread.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues `batch`; `done` runs on the writer thread once it is durable (Ok) or failed.
  // An empty batch completes in order with the others (useful as a barrier).
  // After Stop() or with a full queue, `done` runs at once with Unavailable (and `publish`
  // never runs). `publish`, when set, runs before every completion of its group.
  void Submit(WriteBatch batch, Completion done, Completion publish = nullptr);
  // Runs on the writer thread after the publish steps of each group that had any.
  // REQUIRES: called before the first Submit.
  void SetPublishEnd(std::function<void()> hook);
  // Commits what is queued and stops accepting; returns when the thread has ended.
  void Stop();

  size_t QueueDepth() const;

 private:
  struct Pending {
    WriteBatch batch;
    Completion done;
    Completion publish;
  };
  void Run();
  std::deque<Pending> TakeGroup();
  void CommitGroup(std::deque<Pending>& group);

  // Constant after construction.
  ContextStore& store_;
  const WriterOptions options_;
  metrics::Histogram& batch_rows_;
  metrics::Histogram& commit_seconds_;
  metrics::Counter& commits_;
  metrics::Counter& commit_failures_;
  std::function<void()> publish_end_;  // set before the first Submit, then read-only

  // Writer thread only.
  FailureLog commit_log_{"storage: committing writes"};
  FailureLog flush_log_{"storage: writing deferred entity documents"};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::thread thread_;         // started last
};

}  // namespace zc::context
