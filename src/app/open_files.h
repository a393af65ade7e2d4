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

// Raises RLIMIT_NOFILE's soft limit to fit `max_connections` inbound and `max_outbound`
// outbound connections plus a reserve of 256 (up to the hard limit), and returns the
// connection limit that fits: `max_connections`, or less with a warning in the log.
size_t FitOpenFileLimit(size_t max_connections, size_t max_outbound);

}  // namespace zc::app
