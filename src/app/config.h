// The server's configuration: one struct with in-class defaults, filled from a TOML file
// (`--config FILE`) and then from command-line options, which win. Every key is listed in
// docs/configuration.md. Unknown keys in the file are errors, so that typos don't pass
// silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/networks.h"

namespace zc::app {

struct Config {
  // [server]
  std::filesystem::path data_dir = "./var/data";
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  unsigned threads = 0;  // 0: one per core
  std::string log_level = "info";
  // [http]
  size_t max_body_bytes = size_t{1024} * 1024;
  size_t max_response_bytes = size_t{32} * 1024 * 1024;
  size_t max_pending_response_bytes = size_t{1} << 30;  // bodies being written, in all
  size_t max_pending_request_bytes = size_t{1} << 30;   // large bodies being read, in all
  size_t max_long_queries = 256;  // reads on the entity query pool, queued or running
  size_t max_header_bytes = size_t{8} * 1024;
  unsigned read_timeout_seconds = 30;
  unsigned idle_timeout_seconds = 60;
  unsigned drain_timeout_seconds = 10;
  size_t max_connections = 10000;
  size_t max_connections_per_address = 1000;  // 0 = no limit
  http::NetworkList trusted_proxies;          // whose X-Forwarded-For names the client
  bool access_log = true;
  // [context]
  size_t max_batch_entities = 1000;
  size_t max_attributes_per_entity = 1000;
  size_t max_entity_bytes = size_t{16} << 20;  // context::ApproxEntityBytes after a write
  size_t max_entities_per_tenant = 5'000'000;  // 0: no limit
  bool history = true;
  unsigned history_retention_days = 0;  // 0: keep forever
  // Attributes (or metadata) whose date indexes history, first present first; empty: none.
  std::vector<std::string> history_time_index{"TimeInstant"};
  unsigned document_delay_seconds = 10;  // see store::SqliteOptions::document_delay_ms
  // [notifications]
  unsigned notification_timeout_ms = 5000;
  size_t notification_max_in_flight = 1000;              // requests on the wire; the others wait
  size_t notification_max_in_progress = 50000;           // on the wire, waiting, or to be retried
  size_t notification_max_in_flight_per_receiver = 100;  // of max_in_flight, to one receiver
  size_t notification_max_in_progress_per_receiver = 10000;  // of max_in_progress, the same
  size_t notification_max_waiting_per_entity = 1000;  // per subscription, behind the one sent
  size_t notification_max_in_progress_bytes = size_t{256} << 20;  // URLs and bodies held
  http::NetworkList notification_allowed_networks;                // empty: receivers anywhere
  std::string notification_ca_file;              // trusted for https:// besides the system's
  bool notification_verify_certificates = true;  // false: any receiver certificate
  // [security]
  bool authentication = true;             // false only for local benchmarks and development
  std::string admin_token_file;           // first start: this file's token becomes the admin's
  unsigned token_ttl_seconds = 8 * 3600;  // bearer tokens from /oauth/token
  unsigned max_login_failures = 5;        // then the account locks, with growing backoff
  unsigned lockout_seconds = 60;          // first lockout; doubles on each further lockout
  double rate_per_token = 1000;           // requests/s per token (token bucket); 0: no limit
  double burst_per_token = 2000;
  double rate_per_address = 2000;  // requests/s per client address; 0: no limit
  double burst_per_address = 4000;
  // [tls]
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file: serve HTTPS only
  std::string tls_key_file;
  // [cors]
  std::vector<std::string> cors_allowed_origins;  // empty: closed (no CORS headers)
  // [audit]
  unsigned audit_checkpoint_entries = 1000;    // sign a checkpoint after this many entries
  unsigned audit_checkpoint_seconds = 60;      // ... or after this long with new entries
  unsigned audit_group_delay_ms = 10;          // entries gather this long before one commit
  unsigned audit_device_window_seconds = 300;  // a device's requests tallied per window; 0 = each
  unsigned audit_retention_days = 0;  // older entries move to archive files; 0: all stay live
  std::string audit_archive_dir;      // where archive files go; empty: DATA/audit-archive
};

// The minimum of [audit] retention_days when set: six months, the network logs the
// Cybersecurity Law (Art. 21) asks to keep, stay in the log the auditor's API reads.
inline constexpr unsigned kMinAuditRetentionDays = 180;

// config.audit_archive_dir, or DATA/audit-archive.
std::filesystem::path AuditArchiveDir(const Config& config);

// Reads `file` into `config` (keys present in the file override the defaults).
Status LoadConfigFile(const std::filesystem::path& file, Config& config);

// Parses "HOST:PORT" (IPv4, a name, or [IPv6]) into config.host/port.
Status ParseListen(std::string_view listen, Config& config);

}  // namespace zc::app
