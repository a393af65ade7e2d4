// One entry of the audit log (audit.h): who did what, when, from where, with what outcome.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"

namespace zc::identity {

struct AuditEntry {
  int64_t seq = 0;  // 1, 2, 3 ... dense; assigned by AuditLog
  TimeMs time = 0;  // assigned by AuditLog when 0
  std::string actor;
  std::string actor_kind;  // user, service, device, anonymous, system
  std::string department;
  std::string client_address;
  std::string action;
  std::string target;
  std::string outcome;  // "success", "failure" or an HTTP status such as "204"
  std::string request_id;
  std::string detail;
  std::string prev_hash;  // lowercase hex SHA-256
  std::string hash;       // lowercase hex SHA-256
};

}  // namespace zc::identity
