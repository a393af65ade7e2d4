#include "identity/audit_tally.h"

#include <algorithm>
#include <utility>

#include "common/json.h"

namespace zc::identity {

namespace bj = boost::json;

std::string AuditTally::KeyOf(const AuditEntry& e) {
  std::string key;
  key.reserve(e.actor.size() + e.client_address.size() + e.action.size() + e.outcome.size() + 3);
  key.append(e.actor).append(1, '\x1f').append(e.client_address).append(1, '\x1f');
  key.append(e.action).append(1, '\x1f').append(e.outcome);
  return key;
}

bool AuditTally::Add(AuditEntry& e, SteadyTime now) {
  const TimeMs at = e.time != 0 ? e.time : NowMs();
  std::string key = KeyOf(e);
  if (auto it = windows_.find(key); it != windows_.end()) {
    it->second.Count(e.target, e.request_id, at);
    return true;
  }
  if (windows_.size() >= max_windows_) return false;
  Window& w = windows_.emplace(key, Window{.first = std::move(e), .opened = now, .first_ms = at})
                  .first->second;
  opened_.push_back(std::move(key));
  w.Count(w.first.target, w.first.request_id, at);
  return true;
}

void AuditTally::Window::Count(const std::string& target, const std::string& request_id,
                               TimeMs at) {
  ++requests;
  last_ms = std::max(last_ms, at);
  last_request_id = request_id;
  if (std::find(targets.begin(), targets.end(), target) != targets.end()) return;
  if (targets.size() < kMaxTargets) {
    targets.push_back(target);
  } else {
    ++other_targets;
  }
}

AuditEntry AuditTally::Close(Window& w) {
  bj::array targets;
  for (const std::string& t : w.targets) targets.emplace_back(t);
  bj::object detail{{"requests", w.requests},           {"first", FormatIso8601(w.first_ms)},
                    {"last", FormatIso8601(w.last_ms)}, {"lastRequestId", w.last_request_id},
                    {"targets", std::move(targets)},    {"otherTargets", w.other_targets}};
  AuditEntry e = std::move(w.first);
  e.time = 0;  // the time it is recorded, as for every entry
  e.detail = json::Dump(detail);
  return e;
}

size_t AuditTally::TakeDue(SteadyTime now, std::vector<AuditEntry>& out) {
  size_t closed = 0;
  while (!opened_.empty()) {
    auto it = windows_.find(opened_.front());
    if (it->second.opened + window_ > now) break;
    out.push_back(Close(it->second));
    windows_.erase(it);
    opened_.pop_front();
    ++closed;
  }
  return closed;
}

size_t AuditTally::TakeAll(std::vector<AuditEntry>& out) {
  return TakeDue(SteadyTime::max() - window_, out);
}

std::optional<AuditTally::SteadyTime> AuditTally::NextClose() const {
  if (opened_.empty()) return std::nullopt;
  return windows_.at(opened_.front()).opened + window_;
}

}  // namespace zc::identity
