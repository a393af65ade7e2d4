// Group commit. The writer thread sleeps until work is queued, then takes every queued
// submission (bounded by max_batch_rows), concatenates their batches into one WriteBatch,
// commits it in one transaction and runs the completions in order. While one group is
// being committed (fsync), new submissions pile up and form the next group: the busier
// the server, the larger the groups, so the cost of fsync is shared by more requests.
#include "context/writer.h"

#include <chrono>
#include <iterator>

#include "common/thread_name.h"

namespace zc::context {
namespace {

template <typename T>
void Append(std::vector<T>& to, std::vector<T>& from) {
  if (to.empty()) {
    to = std::move(from);
    return;
  }
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

Writer::Writer(ContextStore& store, WriterOptions options, metrics::Registry& metrics)
    : store_(store),
      options_(options),
      batch_rows_(metrics.GetHistogram("zhicheng_writer_commit_rows",
                                       "Rows per group commit (entities, history, subscriptions)",
                                       {1, 10, 100, 1000, 10000, 100000})),
      commit_seconds_(metrics.GetHistogram("zhicheng_writer_commit_duration_seconds",
                                           "Time to commit one group durably",
                                           metrics::LatencyBuckets())),
      commits_(metrics.GetCounter("zhicheng_writer_commits_total", "Group commits")),
      commit_failures_(metrics.GetCounter(
          "zhicheng_writer_commit_failures_total",
          "Group commits that failed (disk full, I/O error): none of their writes was stored")) {
  metrics.AddCallbackGauge("zhicheng_writer_queue_depth", "Submissions waiting for the writer",
                           [this] { return static_cast<double>(QueueDepth()); });
  thread_ = std::thread([this] {
    NameThisThread("zc-writer");
    Run();
  });
}

Writer::~Writer() {
  Stop();
}

void Writer::SetPublishEnd(std::function<void()> hook) {
  publish_end_ = std::move(hook);
}

void Writer::Submit(WriteBatch batch, Completion done, Completion publish) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queue) {
      queue_.push_back({std::move(batch), std::move(done), std::move(publish)});
      wake_.notify_one();
      return;
    }
  }
  done(Fail(Error::Unavailable("the storage writer is stopping or overloaded")));
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

size_t Writer::QueueDepth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::deque<Writer::Pending> Writer::TakeGroup() {
  std::unique_lock lock(mu_);
  // Idle for a while: an empty group, so that the store can flush deferred state.
  wake_.wait_for(lock, options_.idle_flush_interval,
                 [this] { return stopping_ || !queue_.empty(); });
  std::deque<Pending> group;
  size_t rows = 0;
  while (!queue_.empty() &&
         (group.empty() || rows + queue_.front().batch.Rows() <= options_.max_batch_rows)) {
    rows += queue_.front().batch.Rows();
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return group;
}

void Writer::CommitGroup(std::deque<Pending>& group) {
  WriteBatch merged;
  for (auto& p : group) {
    Append(merged.entities, p.batch.entities);
    Append(merged.history, p.batch.history);
    Append(merged.subscriptions, p.batch.subscriptions);
  }
  Status status = Ok();
  if (!merged.Empty()) {
    const auto start = std::chrono::steady_clock::now();
    status = store_.Commit(merged);
    commit_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    batch_rows_.Observe(static_cast<double>(merged.Rows()));
    commits_.Add();
    if (status) {
      commit_log_.Succeeded();
    } else {
      commit_failures_.Add();
      commit_log_.Failed(status.error().message);
    }
  }
  bool published = false;
  for (auto& p : group) {
    if (!p.publish) continue;
    p.publish(status);
    published = true;
  }
  if (published && publish_end_) publish_end_();
  for (auto& p : group) p.done(status);
}

void Writer::Run() {
  for (;;) {
    auto group = TakeGroup();
    if (!group.empty()) {
      CommitGroup(group);
      continue;
    }
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_ && queue_.empty();
    }
    const auto mode = stopping ? ContextStore::FlushMode::kAll : ContextStore::FlushMode::kDue;
    if (auto s = store_.Flush(mode); s) {
      flush_log_.Succeeded();
    } else {
      flush_log_.Failed(s.error().message);
    }
    if (stopping) return;  // drained and flushed
  }
}

}  // namespace zc::context
