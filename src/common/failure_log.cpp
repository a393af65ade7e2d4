// See failure_log.h.
#include "common/failure_log.h"

#include <spdlog/spdlog.h>

namespace zc {

bool FailureLog::Failed(std::string_view message, Clock::time_point now) {
  ++failures_;
  ++unreported_;
  if (failures_ == 1) {
    spdlog::error("{} failed: {}", what_, message);
  } else if (now - reported_at_ >= every_) {
    spdlog::error("{} failed {} more times ({} in a row): {}", what_, unreported_, failures_,
                  message);
  } else {
    return false;
  }
  unreported_ = 0;
  reported_at_ = now;
  return true;
}

bool FailureLog::Succeeded() {
  if (failures_ == 0) return false;
  spdlog::info("{}: back to normal after {} failed attempts", what_, failures_);
  failures_ = 0;
  unreported_ = 0;
  return true;
}

}  // namespace zc
