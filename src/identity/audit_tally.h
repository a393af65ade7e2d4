// Device telemetry audited in aggregate (DESIGN.md, Security): "device telemetry is audited
// per connection and in aggregate, so that auditing never halves ingest speed".
//
// A device reporting every few seconds would otherwise add one hash-chained entry (~0.4 KB)
// per request: at a city's thousands of sensors, gigabytes of audit log a day that say
// nothing an auditor needs one by one. AuditTally counts instead: the requests of one actor
// from one client address with one action and one outcome share a window, opened by the
// first of them; when the window ends, it becomes one entry that carries the first request's
// fields and, in `detail`, how many requests there were, the first and last times, the last
// request id and the distinct targets (up to kMaxTargets, the rest counted). The caller
// decides what an address is: the HTTP observer passes the IP without the port, so that a
// device opening a connection per request (many do) is tallied like one that keeps its
// connection. Denied requests are not tallied (the caller records them one by one).
//
// Not thread-safe: AuditLog holds it under its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "identity/audit_entry.h"

namespace zc::identity {

class AuditTally {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  static constexpr size_t kMaxTargets = 20;

  AuditTally(std::chrono::seconds window, size_t max_windows)
      : window_(window), max_windows_(max_windows) {}

  // Counts `e` into the open window of its key, or opens one at `now` with it (then `e` is
  // moved from). False, `e` untouched, when max_windows are open and `e` would need another:
  // the caller records it on its own.
  bool Add(AuditEntry& e, SteadyTime now);
  // Appends to `out` the entry of every window opened `window` or more before `now` and
  // closes them; returns how many.
  size_t TakeDue(SteadyTime now, std::vector<AuditEntry>& out);
  // The same for every open window.
  size_t TakeAll(std::vector<AuditEntry>& out);
  // When the oldest open window ends; nullopt when none is open.
  std::optional<SteadyTime> NextClose() const;

 private:
  struct Window {
    AuditEntry first;  // the first request's entry; its detail is replaced at the close
    SteadyTime opened;
    TimeMs first_ms = 0;
    TimeMs last_ms = 0;
    uint64_t requests = 0;
    std::string last_request_id;
    std::vector<std::string> targets;  // distinct, in order of appearance
    uint64_t other_targets = 0;        // requests whose target did not fit in `targets`

    void Count(const std::string& target, const std::string& request_id, TimeMs at);
  };

  static std::string KeyOf(const AuditEntry& e);
  static AuditEntry Close(Window& w);

  const std::chrono::seconds window_;
  const size_t max_windows_;
  std::unordered_map<std::string, Window> windows_;  // by KeyOf
  std::deque<std::string> opened_;                   // keys in order of opening (= of closing)
};

}  // namespace zc::identity
