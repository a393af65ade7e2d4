// TOML configuration loading with toml++. Each section is read by a small function that
// knows its keys; a key the function does not know is reported with its section.
#include "app/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>
#include <set>
#include <type_traits>
#include <utility>

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

// A crash loses the audit entries of at most this long (see docs/security.md).
constexpr unsigned kMaxAuditGroupDelayMs = 1000;
constexpr unsigned kMaxAuditDeviceWindowSeconds = 3600;  // a crash loses at most an open window

template <typename T>
Status ReadNumber(const toml::table& t, std::string_view key, T& out) {
  const toml::node* n = t.get(key);
  if (!n) return Ok();
  auto v = n->value<int64_t>();
  if (!v || *v < 0) {
    return Fail(Error::BadRequest(fmt::format("{} must be a non-negative integer", key)));
  }
  out = static_cast<T>(*v);
  return Ok();
}

// ReadNumber for a key whose value must be at least `least` (its default is).
template <typename T>
Status ReadAtLeast(const toml::table& t, std::string_view section, std::string_view key, T& out,
                   T least = 1) {
  if (auto s = ReadNumber(t, key, out); !s) return s;
  if (out < least) {
    return Fail(Error::BadRequest(fmt::format("[{}] {} must be at least {}", section, key, least)));
  }
  return Ok();
}

// A key that must hold a value of type T (bool or std::string) when present.
template <typename T>
Status ReadTyped(const toml::table& t, std::string_view section, std::string_view key, T& out) {
  const toml::node* n = t.get(key);
  if (!n) return Ok();
  auto v = n->value_exact<T>();
  if (!v) {
    constexpr std::string_view kType = std::is_same_v<T, bool> ? "true or false" : "a string";
    return Fail(Error::BadRequest(fmt::format("[{}] {} must be {}", section, key, kType)));
  }
  out = std::move(*v);
  return Ok();
}

// A key that must hold a list of strings when present; with `single_ok`, one string is a
// list of one. Empty strings are left out.
Status ReadStringList(const toml::table& t, std::string_view section, std::string_view key,
                      std::vector<std::string>& out, bool single_ok = false) {
  const toml::node* n = t.get(key);
  if (!n) return Ok();
  const auto bad = [&] {
    return Fail(Error::BadRequest(fmt::format("[{}] {} must be a list of strings{}", section, key,
                                              single_ok ? " or a string" : "")));
  };
  std::vector<std::string> values;
  const auto add = [&values](std::string v) {
    if (!v.empty()) values.push_back(std::move(v));
  };
  if (auto one = n->value_exact<std::string>(); one && single_ok) {
    add(std::move(*one));
  } else if (const toml::array* list = n->as_array()) {
    for (const toml::node& item : *list) {
      auto v = item.value_exact<std::string>();
      if (!v) return bad();
      add(std::move(*v));
    }
  } else {
    return bad();
  }
  out = std::move(values);
  return Ok();
}

// A list of IP addresses and networks (http::NetworkList); refusals name the key.
Status ReadNetworks(const toml::table& t, std::string_view section, std::string_view key,
                    http::NetworkList& out) {
  std::vector<std::string> entries;
  if (auto s = ReadStringList(t, section, key, entries); !s) return s;
  auto networks = http::NetworkList::Parse(entries);
  if (!networks) {
    return Fail(
        Error::BadRequest(fmt::format("[{}] {}: {}", section, key, networks.error().message)));
  }
  out = std::move(*networks);
  return Ok();
}

Status ReadServer(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "server", {"data", "listen", "threads", "log_level"}); !s) return s;
  std::string data = c.data_dir.string();
  std::string listen;
  for (auto s : {ReadTyped(t, "server", "data", data), ReadTyped(t, "server", "listen", listen),
                 ReadTyped(t, "server", "log_level", c.log_level)}) {
    if (!s) return s;
  }
  c.data_dir = data;
  if (t.contains("listen")) {
    if (auto s = ParseListen(listen, c); !s) return s;
  }
  return ReadNumber(t, "threads", c.threads);
}

Status ReadHttp(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(
          t, "http",
          {"max_body_bytes", "max_response_bytes", "max_header_bytes", "read_timeout_seconds",
           "idle_timeout_seconds", "drain_timeout_seconds", "max_connections",
           "max_connections_per_address", "access_log", "max_long_queries",
           "max_pending_response_bytes", "max_pending_request_bytes", "trusted_proxies"});
      !s) {
    return s;
  }
  for (auto s : {ReadTyped(t, "http", "access_log", c.access_log),
                 ReadNumber(t, "max_body_bytes", c.max_body_bytes),
                 ReadNumber(t, "max_response_bytes", c.max_response_bytes),
                 ReadNumber(t, "max_header_bytes", c.max_header_bytes),
                 ReadNumber(t, "read_timeout_seconds", c.read_timeout_seconds),
                 ReadNumber(t, "idle_timeout_seconds", c.idle_timeout_seconds),
                 ReadNumber(t, "drain_timeout_seconds", c.drain_timeout_seconds),
                 ReadNumber(t, "max_connections", c.max_connections),
                 ReadNumber(t, "max_connections_per_address", c.max_connections_per_address),
                 ReadAtLeast(t, "http", "max_long_queries", c.max_long_queries),
                 ReadNumber(t, "max_pending_response_bytes", c.max_pending_response_bytes),
                 ReadNumber(t, "max_pending_request_bytes", c.max_pending_request_bytes)}) {
    if (!s) return s;
  }
  if (c.max_response_bytes < c.max_body_bytes) {  // what one request wrote must read back
    return Fail(Error::BadRequest(fmt::format(
        "[http] max_response_bytes must be at least max_body_bytes ({})", c.max_body_bytes)));
  }
  if (c.max_pending_response_bytes < c.max_response_bytes) {  // one largest answer fits
    return Fail(Error::BadRequest(
        fmt::format("[http] max_pending_response_bytes must be at least max_response_bytes ({})",
                    c.max_response_bytes)));
  }
  if (c.max_pending_request_bytes < c.max_body_bytes) {  // one largest request fits
    return Fail(Error::BadRequest(
        fmt::format("[http] max_pending_request_bytes must be at least max_body_bytes ({})",
                    c.max_body_bytes)));
  }
  return ReadNetworks(t, "http", "trusted_proxies", c.trusted_proxies);
}

Status ReadContext(const toml::table& t, Config& c) {
  constexpr size_t kMinEntityBytes = 1024;
  if (auto s = CheckKeys(t, "context",
                         {"max_batch_entities", "max_attributes_per_entity", "max_entity_bytes",
                          "max_entities_per_tenant", "history", "history_retention_days",
                          "history_time_index", "document_delay_seconds"});
      !s) {
    return s;
  }
  if (auto s = ReadTyped(t, "context", "history", c.history); !s) return s;
  if (auto s = ReadStringList(t, "context", "history_time_index", c.history_time_index,
                              /*single_ok=*/true);
      !s) {
    return s;
  }
  if (auto s = ReadNumber(t, "max_batch_entities", c.max_batch_entities); !s) return s;
  if (auto s = ReadAtLeast(t, "context", "max_attributes_per_entity", c.max_attributes_per_entity);
      !s) {
    return s;
  }
  if (auto s = ReadAtLeast(t, "context", "max_entity_bytes", c.max_entity_bytes, kMinEntityBytes);
      !s) {
    return s;
  }
  if (auto s = ReadNumber(t, "max_entities_per_tenant", c.max_entities_per_tenant); !s) return s;
  if (auto s = ReadNumber(t, "document_delay_seconds", c.document_delay_seconds); !s) return s;
  return ReadNumber(t, "history_retention_days", c.history_retention_days);
}

Status ReadNotifications(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(
          t, "notifications",
          {"timeout_ms", "max_in_flight", "max_in_flight_per_receiver", "max_in_progress",
           "max_in_progress_per_receiver", "max_waiting_per_entity", "max_in_progress_bytes",
           "allowed_networks", "ca_file", "verify_certificates"});
      !s) {
    return s;
  }
  if (auto s = ReadNumber(t, "timeout_ms", c.notification_timeout_ms); !s) return s;
  for (auto [key, value] :
       {std::pair{"max_in_flight", &c.notification_max_in_flight},
        std::pair{"max_in_progress", &c.notification_max_in_progress},
        std::pair{"max_in_flight_per_receiver", &c.notification_max_in_flight_per_receiver},
        std::pair{"max_in_progress_per_receiver", &c.notification_max_in_progress_per_receiver},
        std::pair{"max_waiting_per_entity", &c.notification_max_waiting_per_entity}}) {
    if (auto s = ReadAtLeast(t, "notifications", key, *value); !s) return s;
  }
  if (auto s = ReadNumber(t, "max_in_progress_bytes", c.notification_max_in_progress_bytes); !s) {
    return s;
  }
  if (auto s =
          ReadNetworks(t, "notifications", "allowed_networks", c.notification_allowed_networks);
      !s) {
    return s;
  }
  if (auto s = ReadTyped(t, "notifications", "ca_file", c.notification_ca_file); !s) return s;
  return ReadTyped(t, "notifications", "verify_certificates", c.notification_verify_certificates);
}

Status ReadRate(const toml::table& t, std::string_view key, double& out) {
  const toml::node* n = t.get(key);
  if (!n) return Ok();
  auto v = n->value<double>();
  if (!v || *v < 0) return Fail(Error::BadRequest(fmt::format("{} must be a number >= 0", key)));
  out = *v;
  return Ok();
}

Status ReadSecurity(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "security",
                         {"authentication", "admin_token_file", "token_ttl_seconds",
                          "max_login_failures", "lockout_seconds", "rate_per_token",
                          "burst_per_token", "rate_per_address", "burst_per_address"});
      !s) {
    return s;
  }
  for (auto s : {ReadTyped(t, "security", "authentication", c.authentication),
                 ReadTyped(t, "security", "admin_token_file", c.admin_token_file),
                 ReadNumber(t, "token_ttl_seconds", c.token_ttl_seconds),
                 ReadNumber(t, "max_login_failures", c.max_login_failures),
                 ReadNumber(t, "lockout_seconds", c.lockout_seconds),
                 ReadRate(t, "rate_per_token", c.rate_per_token),
                 ReadRate(t, "burst_per_token", c.burst_per_token),
                 ReadRate(t, "rate_per_address", c.rate_per_address),
                 ReadRate(t, "burst_per_address", c.burst_per_address)}) {
    if (!s) return s;
  }
  return Ok();
}

Status ReadTls(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "tls", {"cert_file", "key_file"}); !s) return s;
  for (auto s : {ReadTyped(t, "tls", "cert_file", c.tls_cert_file),
                 ReadTyped(t, "tls", "key_file", c.tls_key_file)}) {
    if (!s) return s;
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return Fail(Error::BadRequest("[tls] needs both cert_file and key_file"));
  }
  return Ok();
}

Status ReadCors(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "cors", {"allowed_origins"}); !s) return s;
  return ReadStringList(t, "cors", "allowed_origins", c.cors_allowed_origins);
}

Status ReadAudit(const toml::table& t, Config& c) {
  if (auto s = CheckKeys(t, "audit",
                         {"checkpoint_entries", "checkpoint_seconds", "group_delay_ms",
                          "device_window_seconds", "retention_days", "archive_dir"});
      !s) {
    return s;
  }
  if (auto s = ReadNumber(t, "retention_days", c.audit_retention_days); !s) return s;
  if (c.audit_retention_days > 0 && c.audit_retention_days < kMinAuditRetentionDays) {
    return Fail(Error::BadRequest(
        fmt::format("[audit] retention_days must be 0 (keep every entry in the live log) or at "
                    "least {} (six months, as the Cybersecurity Law asks of network logs)",
                    kMinAuditRetentionDays)));
  }
  if (auto s = ReadTyped(t, "audit", "archive_dir", c.audit_archive_dir); !s) return s;
  if (auto s = ReadNumber(t, "checkpoint_entries", c.audit_checkpoint_entries); !s) return s;
  if (auto s = ReadNumber(t, "device_window_seconds", c.audit_device_window_seconds); !s) {
    return s;
  }
  if (c.audit_device_window_seconds > kMaxAuditDeviceWindowSeconds) {
    return Fail(Error::BadRequest(fmt::format("[audit] device_window_seconds must be at most {}",
                                              kMaxAuditDeviceWindowSeconds)));
  }
  if (auto s = ReadNumber(t, "group_delay_ms", c.audit_group_delay_ms); !s) return s;
  if (c.audit_group_delay_ms > kMaxAuditGroupDelayMs) {
    return Fail(Error::BadRequest(
        fmt::format("[audit] group_delay_ms must be at most {}", kMaxAuditGroupDelayMs)));
  }
  return ReadNumber(t, "checkpoint_seconds", c.audit_checkpoint_seconds);
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
  if (auto s = CheckKeys(
          root, "top level",
          {"server", "http", "context", "notifications", "security", "tls", "cors", "audit"});
      !s) {
    return s;
  }
  struct Section {
    const char* name;
    Status (*read)(const toml::table&, Config&);
  };
  for (const Section& section :
       {Section{"server", ReadServer}, Section{"http", ReadHttp}, Section{"context", ReadContext},
        Section{"notifications", ReadNotifications}, Section{"security", ReadSecurity},
        Section{"tls", ReadTls}, Section{"cors", ReadCors}, Section{"audit", ReadAudit}}) {
    const toml::table* t = root[section.name].as_table();
    if (!t) continue;
    if (auto s = section.read(*t, config); !s) return s;
  }
  return Ok();
}

std::filesystem::path AuditArchiveDir(const Config& config) {
  if (!config.audit_archive_dir.empty()) return config.audit_archive_dir;
  return config.data_dir / "audit-archive";
}

}  // namespace zc::app
