// The process's limit on open files, fitted to the connection limits at start-up.
//
// Every HTTP connection and every outbound notification request holds a file descriptor,
// besides the store, the logs and the audit files. Debian's default soft limit is 1024, far
// below the default [http] max_connections (10,000): past it, accept() fails and a client
// is left waiting in the kernel's backlog. So the server raises its soft limit towards what
// the configuration needs, up to the hard limit; when the hard limit is too low for that,
// it lowers the connection limit to fit instead, so that a connection beyond it is closed
// at once, and says so in the log.
#pragma once

#include <cstddef>

namespace zc::app {

struct OpenFileBudget {
  size_t max_connections = 0;  // what the HTTP server may accept
  size_t limit = 0;            // the soft limit on open files now
  bool lowered = false;        // max_connections is below the configured one
};

// Raises RLIMIT_NOFILE's soft limit to fit `max_connections` inbound and `max_outbound`
// outbound connections plus a reserve of 256 (up to the hard limit), and returns the
// connection limit that fits. Logs a warning when it must lower it.
OpenFileBudget FitOpenFileLimit(size_t max_connections, size_t max_outbound);

}  // namespace zc::app
