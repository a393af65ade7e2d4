// Logging: spdlog's default logger is the one global of the project (STYLE.md habit 6).
// `zc::log::Init` configures it once at start-up: JSON-ish structured lines on stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace zc::log {

// Sets the level ("trace".."off") and the line pattern. Call once, before threads start.
void Init(std::string_view level);

}  // namespace zc::log
