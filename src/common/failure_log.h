// FailureLog: logs a run of failures of one repeated operation (a commit, a flush, an audit
// write) without flooding the log while the cause lasts, e.g. a full disk retried every
// second: the first failure at once, then one line per `every` with the count, and one
// line when the operation succeeds again.
//
// Not thread-safe: one owner thread calls it (the writer thread, the audit thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace zc {

class FailureLog {
 public:
  using Clock = std::chrono::steady_clock;

  // `what` names the operation: "storage: committing writes" logs
  // "storage: committing writes failed: <message>".
  explicit FailureLog(std::string what, std::chrono::seconds every = std::chrono::seconds(10))
      : what_(std::move(what)), every_(every) {}

  // Returns whether this failure was logged.
  bool Failed(std::string_view message, Clock::time_point now = Clock::now());
  // Returns whether the end of a run of failures was logged.
  bool Succeeded();

  uint64_t failures() const { return failures_; }

 private:
  std::string what_;
  std::chrono::seconds every_;
  uint64_t failures_ = 0;    // in the current run
  uint64_t unreported_ = 0;  // since the last line
  Clock::time_point reported_at_{};
};

}  // namespace zc
