// Periodic background work of the server (flushing subscription statistics, pruning old
// history): one thread that runs each task at its interval until Stop(). Tasks run on
// this thread and may block briefly (they talk to the store, never to a client).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace zc::app {

class Maintenance {
 public:
  struct Task {
    std::string name;
    std::chrono::seconds interval;
    std::function<void()> run;
    // When the first run is due after the start; nullopt: one interval after it.
    std::optional<std::chrono::seconds> first_after;
  };

  explicit Maintenance(std::vector<Task> tasks);
  ~Maintenance();  // stops
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // Wakes the thread and joins it; tasks are not run again.
  void Stop();

 private:
  void Run();

  const std::vector<Task> tasks_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace zc::app
