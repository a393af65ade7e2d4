// `zhicheng serve`: opens the store, rebuilds the in-memory state, wires the modules
// together and runs the HTTP server until SIGINT/SIGTERM.
#pragma once

#include "app/config.h"

namespace zc::app {

// Runs the server; returns the process exit code (0 after a clean stop).
int Serve(const Config& config);

}  // namespace zc::app
