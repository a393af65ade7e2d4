// TOML configuration loading with toml++. Each section is read by a small function that
// knows its keys; a key the function does not know is reported with its section.
#include "app/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>
#include <set>

namespace zc::app {
namespace {

Status CheckKeys(const toml::table& table, std::string_view section,
                 const std::set<std::string_view>& known) {
  for (const auto& [key, value] : table) {
    if (!known.contains(key.str())) {
      return Fail(
          Error::BadRequest(fmt::format("unknown configuration key [{}] {}", section, key.str())));
    }
  }
  return Ok();
}

template <typename T>
Status ReadNumber(const toml::table& t, std::string_view key, T& out) {
  const toml::node* n = t.get(key);
  if (!n) return Ok();
  auto v = n->value<int64_t>();
  if (!v || *v < 0)
    return Fail(Error::BadRequest(fmt::format("{} must be a non-negative integer", key)));
  out = static_cast<T>(*v);
  return Ok();
}

Status ReadServer(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "server", {"data", "listen", "threads", "log_level"}); !s) return s;
  if (auto v = t["data"].value<std::string>()) c.data_dir = *v;
  if (auto v = t["listen"].value<std::string>()) {
    if (auto s = ParseListen(*v, c); !s) return s;
  }
  if (auto v = t["log_level"].value<std::string>()) c.log_level = *v;
  return ReadNumber(t, "threads", c.threads);
}

Status ReadHttp(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(
          t, "http",
          {"max_body_bytes", "max_header_bytes", "read_timeout_seconds", "idle_timeout_seconds",
           "drain_timeout_seconds", "max_connections", "access_log"});
      !s) {
    return s;
  }
  if (auto v = t["access_log"].value<bool>()) c.access_log = *v;
  for (auto s : {ReadNumber(t, "max_body_bytes", c.max_body_bytes),
                 ReadNumber(t, "max_header_bytes", c.max_header_bytes),
                 ReadNumber(t, "read_timeout_seconds", c.read_timeout_seconds),
                 ReadNumber(t, "idle_timeout_seconds", c.idle_timeout_seconds),
                 ReadNumber(t, "drain_timeout_seconds", c.drain_timeout_seconds),
                 ReadNumber(t, "max_connections", c.max_connections)}) {
    if (!s) return s;
  }
  return Ok();
}

Status ReadContext(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "context", {"max_batch_entities", "history", "history_retention_days"});
      !s) {
    return s;
  }
  if (auto v = t["history"].value<bool>()) c.history = *v;
  if (auto s = ReadNumber(t, "max_batch_entities", c.max_batch_entities); !s) return s;
  return ReadNumber(t, "history_retention_days", c.history_retention_days);
}

Status ReadNotifications(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "notifications", {"timeout_ms", "max_in_flight"}); !s) return s;
  if (auto s = ReadNumber(t, "timeout_ms", c.notification_timeout_ms); !s) return s;
  return ReadNumber(t, "max_in_flight", c.notification_max_in_flight);
}

}  // namespace

Status ParseListen(std::string_view listen, Config& config) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail(Error::BadRequest(fmt::format("--listen wants HOST:PORT, got '{}'", listen)));
  }
  std::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port = listen.substr(colon + 1);
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return Fail(Error::BadRequest(fmt::format("invalid port in --listen '{}'", listen)));
  }
  config.host = std::string(host);
  config.port = static_cast<uint16_t>(value);
  return Ok();
}

Status LoadConfigFile(const std::filesystem::path& file, Config& config) {
  toml::table root;
  try {  // toml++ is built with exceptions in Debian: a parse error throws.
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Fail(Error::BadRequest(fmt::format("{}: {}", file.string(), e.description())));
  }
  if (auto s = CheckKeys(root, "top level", {"server", "http", "context", "notifications"}); !s) {
    return s;
  }
  struct Section {
    const char* name;
    Status (*read)(const toml::table&, Config&);
  };
  for (const Section& section :
       {Section{"server", ReadServer}, Section{"http", ReadHttp}, Section{"context", ReadContext},
        Section{"notifications", ReadNotifications}}) {
    const toml::table* t = root[section.name].as_table();
    if (!t) continue;
    if (auto s = section.read(*t, config); !s) return s;
  }
  return Ok();
}

}  // namespace zc::app
