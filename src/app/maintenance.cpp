// The maintenance thread: sleeps on a condition variable until the earliest task is due
// or Stop() is called, runs the due tasks, and computes the next deadline.
#include "app/maintenance.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/thread_name.h"

namespace zc::app {

Maintenance::Maintenance(std::vector<Task> tasks) : tasks_(std::move(tasks)) {
  thread_ = std::thread([this] {
    NameThisThread("zc-maintenance");
    Run();
  });
}

Maintenance::~Maintenance() {
  Stop();
}

void Maintenance::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Maintenance::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> due;
  due.reserve(tasks_.size());
  for (const auto& t : tasks_) due.push_back(Clock::now() + t.first_after.value_or(t.interval));
  std::unique_lock lock(mu_);
  while (!stopping_ && !tasks_.empty()) {
    const auto next = *std::min_element(due.begin(), due.end());
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) break;
    lock.unlock();
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (Clock::now() < due[i]) continue;
      spdlog::debug("maintenance: {}", tasks_[i].name);
      tasks_[i].run();
      due[i] = Clock::now() + tasks_[i].interval;
    }
    lock.lock();
  }
}

}  // namespace zc::app
