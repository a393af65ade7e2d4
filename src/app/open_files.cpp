// See open_files.h.
#include "app/open_files.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/log.h"

namespace zc::app {
namespace {

// Descriptors besides connections: the SQLite database, its WAL and shared memory, the
// audit files, the history readers' connections, the listening socket, the logs.
constexpr rlim_t kReserve = 256;

}  // namespace

size_t FitOpenFileLimit(size_t max_connections, size_t max_outbound) {
  const rlim_t needed = max_connections + max_outbound + kReserve;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_connections;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    rlimit raised = limit;
    raised.rlim_cur =
        limit.rlim_max == RLIM_INFINITY ? needed : std::min<rlim_t>(needed, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      spdlog::info("open-file limit raised from {} to {}", limit.rlim_cur, raised.rlim_cur);
      limit = raised;
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return max_connections;
  // Too low: three quarters of what the reserve leaves go to connections, the rest to
  // notification requests (which fail and are retried when they find no descriptor).
  const rlim_t left = limit.rlim_cur > kReserve ? limit.rlim_cur - kReserve : 0;
  const size_t fit = std::min<size_t>(max_connections, std::max<rlim_t>(1, left * 3 / 4));
  spdlog::warn(
      "the open-file limit is {} (hard limit {}), below the {} that [http] max_connections "
      "({}) and [notifications] max_in_flight ({}) need: accepting at most {} connections; "
      "raise the limit (LimitNOFILE= in the systemd unit, ulimit -n) to lift this",
      limit.rlim_cur, limit.rlim_max, needed, max_connections, max_outbound, fit);
  return fit;
}

}  // namespace zc::app
