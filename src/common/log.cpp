// Logger set-up. Every module logs through spdlog's default logger; the pattern puts the
// time in UTC with milliseconds so that lines from several threads sort.
#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace zc::log {

void Init(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("zhicheng");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace zc::log
