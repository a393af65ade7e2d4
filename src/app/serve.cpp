// `zhicheng serve`. Start-up order: logger → data directory → store (migrations) → writer
// → context service (state rebuilt from the store) → routes → listen → print the ready
// line → run. Shutdown on SIGINT/SIGTERM: the server stops accepting and drains in-flight
// requests, then the writer flushes its queue, then the store closes; exit code 0.
//
// Signals are blocked in every thread and taken by one thread with sigwait(), which then
// calls Server::Stop(): no work happens in a signal handler.
#include "app/serve.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "api/identity/authorizer.h"
#include "api/identity/routes.h"
#include "api/ngsi/common.h"
#include "api/ngsi/notifier.h"
#include "api/ngsi/routes.h"
#include "api/ngsi/subscription_routes.h"
#include "api/ql/routes.h"
#include "app/audit_command.h"
#include "app/maintenance.h"
#include "app/open_files.h"
#include "app/ops_routes.h"
#include "app/security.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/named_pool.h"
#include "context/service.h"
#include "context/subscription_manager.h"
#include "context/writer.h"
#include "http/router.h"
#include "http/server.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::app {
namespace {

http::ServerOptions ServerOptionsOf(const Config& c) {
  http::ServerOptions o;
  o.host = c.host;
  o.port = c.port;
  o.threads = c.threads;
  o.max_header_bytes = c.max_header_bytes;
  o.max_body_bytes = c.max_body_bytes;
  o.max_response_bytes = c.max_response_bytes;
  o.max_pending_response_bytes = c.max_pending_response_bytes;
  o.max_pending_request_bytes = c.max_pending_request_bytes;
  o.read_timeout = std::chrono::seconds(c.read_timeout_seconds);
  o.idle_timeout = std::chrono::seconds(c.idle_timeout_seconds);
  o.drain_timeout = std::chrono::seconds(c.drain_timeout_seconds);
  o.max_connections = c.max_connections;
  o.max_connections_per_address = c.max_connections_per_address;
  o.trusted_proxies = c.trusted_proxies;
  o.access_log = c.access_log;
  o.tls_cert_file = c.tls_cert_file;
  o.tls_key_file = c.tls_key_file;
  o.cors_allowed_origins = c.cors_allowed_origins;
  return o;
}

// Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread (inherited by threads it starts).
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Flushes subscription statistics and waits until they are durable.
void FlushCountersAndWait(context::SubscriptionManager& manager) {
  std::promise<void> flushed;
  manager.FlushCounters([&flushed](Status s) {
    if (!s) spdlog::warn("flushing subscription statistics failed: {}", s.error().message);
    flushed.set_value();
  });
  flushed.get_future().wait();
}

// The hourly tasks run a minute after the start too, so that a server restarted more often
// than hourly (deployments, a crash loop) still prunes and archives.
constexpr std::chrono::seconds kHourly{3600};
constexpr std::chrono::seconds kSoonAfterStart{60};

std::vector<Maintenance::Task> MaintenanceTasks(const Config& config, context::ContextStore& store,
                                                context::ContextService& service,
                                                context::SubscriptionManager& manager,
                                                Security& security) {
  std::vector<Maintenance::Task> tasks;
  tasks.push_back({"purge expired entities", std::chrono::seconds(10), [&service] {
                     std::promise<size_t> purged;
                     service.PurgeExpired([&purged](size_t n) { purged.set_value(n); });
                     if (size_t n = purged.get_future().get(); n > 0) {
                       spdlog::info("purged {} expired entities", n);
                     }
                   }});
  tasks.push_back({"flush subscription statistics", std::chrono::seconds(60),
                   [&manager] { FlushCountersAndWait(manager); }});
  tasks.push_back({"purge expired tokens", kHourly,
                   [&security] {
                     auto n = security.directory->PurgeTokens(NowMs());
                     if (n && *n > 0) spdlog::info("purged {} expired or revoked tokens", *n);
                   },
                   kSoonAfterStart});
  if (config.history_retention_days > 0) {
    const TimeMs keep = TimeMs{config.history_retention_days} * 86400000;
    tasks.push_back({"prune history", kHourly,
                     [&store, keep] {
                       auto removed = store.PruneHistory(NowMs() - keep);
                       if (removed) spdlog::info("pruned {} history rows", *removed);
                     },
                     kSoonAfterStart});
  }
  if (config.audit_retention_days > 0) {
    const TimeMs keep = TimeMs{config.audit_retention_days} * 86400000;
    tasks.push_back({"archive the audit log", kHourly,
                     [&security, keep, dir = AuditArchiveDir(config)] {
                       auto files = ArchiveAudit(*security.audit_store, *security.audit, dir,
                                                 NowMs() - keep, "system");
                       if (!files) spdlog::error("audit archive: {}", files.error().message);
                     },
                     kSoonAfterStart});
  }
  return tasks;
}

// Authentication (unless switched off for benchmarks), rate limits and the audit observer.
void Secure(http::Server& server, const Config& config, const Security& security,
            metrics::Registry& metrics) {
  if (config.authentication) {
    server.SetAuthorizer(api::identity::TokenAuthorizer(
        *security.directory, {.per_token = config.rate_per_token,
                              .burst_per_token = config.burst_per_token,
                              .per_address = config.rate_per_address,
                              .burst_per_address = config.burst_per_address}));
  } else {
    spdlog::warn(
        "authentication is OFF ([security] authentication = false): every caller is "
        "an anonymous administrator");
  }
  server.SetRequestObserver(api::identity::AuditObserver(*security.audit, metrics));
}

// Runs the server until a stop signal; SIGUSR1 (sent by ourselves) ends the waiter when
// the server stopped for another reason.
void RunUntilSignal(http::Server& server, sigset_t signals) {
  std::thread waiter([&server, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGUSR1) spdlog::info("signal {} received, stopping", sig);
    server.Stop();
  });
  server.Run();
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
}

// What `serve` opens in the data directory before anything runs.
struct DataDir {
  DataDirLock lock;
  Security security;
  std::unique_ptr<store::SqliteStore> store;
};

// A start-up failure in `dir`: `what` failed because of `cause`, with what to do when the
// cause is a full disk (a start writes: it finishes interrupted work and stores rebuilt
// entities before serving) or a damaged database file.
Error StartFailure(std::string_view what, const std::filesystem::path& dir, const Error& cause) {
  std::string m = fmt::format("{}: {}", what, cause.message);
  if (cause.code == ErrorCode::kUnavailable) {
    m += fmt::format(
        "; free space on its filesystem (df -h {}) and start again: nothing acknowledged is lost",
        dir.string());
  } else if (cause.code == ErrorCode::kDataLoss) {
    m += fmt::format(
        "; a database file is damaged: keep {} as it is, restore the latest backup into a new "
        "directory (zhicheng restore --from BACKUP --data NEWDIR) and start on that; see "
        "\"Restore\" in docs/operations.md",
        dir.string());
  }
  return Error::Internal(std::move(m));
}

Error OpenFailure(std::string_view what, const std::filesystem::path& dir, const Error& cause) {
  return StartFailure(fmt::format("cannot open {} in {}", what, dir.string()), dir, cause);
}

Result<DataDir> OpenDataDir(const Config& config) {
  auto lock = DataDirLock::Acquire(config.data_dir);
  if (!lock) return Fail(lock.error());
  if (auto exposure = DataDirExposure(config.data_dir)) spdlog::warn("{}", *exposure);
  auto security = OpenSecurity(config);
  if (!security) return Fail(OpenFailure("identity and audit", config.data_dir, security.error()));
  if (auto s = BootstrapIfEmpty(config, *security, stdout); !s) {
    return Fail(StartFailure("first start", config.data_dir, s.error()));
  }
  auto store = store::SqliteStore::Open(
      config.data_dir,
      {.document_delay_ms = static_cast<int64_t>(config.document_delay_seconds) * 1000});
  if (!store) return Fail(OpenFailure("the store", config.data_dir, store.error()));
  return DataDir{std::move(*lock), std::move(*security), std::move(*store)};
}

void RegisterRoutes(http::Router& router, metrics::Registry& metrics,
                    context::ContextService& service, context::SubscriptionManager& subscriptions,
                    context::ContextStore& store, boost::asio::thread_pool& history_readers,
                    api::ngsi::QueryPool& entity_queries,
                    api::identity::IdentityApi& identity_api) {
  router.SetErrorFormatter("/v2", api::ngsi::ErrorFormatter());
  RegisterOpsRoutes(router, metrics);
  api::ngsi::RegisterEntityRoutes(router, service, entity_queries);
  api::ngsi::RegisterSubscriptionRoutes(router, subscriptions);
  api::ql::RegisterRoutes(router, store, history_readers);
  api::identity::RegisterOAuthRoutes(router, identity_api);
  api::identity::RegisterIdentityRoutes(router, identity_api);
  api::identity::RegisterAuditRoutes(router, identity_api);
}

// One per core, at least two: a long scan on one leaves the other for short queries.
size_t EntityQueryThreads() {
  return std::max<size_t>(2, std::thread::hardware_concurrency());
}

// The line scripts wait for, on stdout.
void PrintReadyLine(const Config& config, uint16_t port) {
  const bool v6 = config.host.find(':') != std::string::npos;
  fmt::print("zhicheng listening on {}://{}{}{}:{}\n",
             config.tls_cert_file.empty() ? "http" : "https", v6 ? "[" : "", config.host,
             v6 ? "]" : "", port);
  std::fflush(stdout);
}

api::ngsi::NotifierOptions NotifierOptionsOf(const Config& config) {
  api::ngsi::NotifierOptions options;
  options.client.max_in_flight = config.notification_max_in_flight;
  options.max_in_flight_per_receiver = config.notification_max_in_flight_per_receiver;
  options.client.ca_file = config.notification_ca_file;
  options.client.verify_certificates = config.notification_verify_certificates;
  options.client.allowed_networks = config.notification_allowed_networks;
  return options;
}

// Refuses, at subscription writes, a notification URL whose host is an IP address outside
// [notifications] allowed_networks; a host name is checked when it is resolved (http/client).
std::function<Status(const std::string&)> DestinationCheck(http::NetworkList allowed) {
  if (allowed.empty()) return nullptr;
  return [allowed = std::move(allowed)](const std::string& url) -> Status {
    if (auto address = allowed.LiteralHostOutside(url)) {
      return Fail(Error::BadRequest(fmt::format(
          "notification url: {} is outside [notifications] allowed_networks", *address)));
    }
    return Ok();
  };
}

context::SubscriptionManagerOptions SubscriptionOptionsOf(const Config& config) {
  return {.max_in_flight = config.notification_max_in_progress,
          .max_in_progress_bytes = config.notification_max_in_progress_bytes,
          .max_in_progress_per_receiver = config.notification_max_in_progress_per_receiver,
          .max_waiting_per_lane = config.notification_max_waiting_per_entity,
          .default_timeout = std::chrono::milliseconds(config.notification_timeout_ms),
          .check_url = DestinationCheck(config.notification_allowed_networks)};
}

// ServerOptionsOf with max_connections fitted to the open-file limit, which this raises
// (see app/open_files.h).
http::ServerOptions ServerOptionsFittedToOpenFiles(const Config& config) {
  http::ServerOptions options = ServerOptionsOf(config);
  options.max_connections =
      FitOpenFileLimit(config.max_connections, config.notification_max_in_flight);
  return options;
}

// What can be checked before the data directory is opened: the notifier's CA file.
Status CheckBeforeStart(const Config& config) {
  if (auto s = http::CheckClientOptions(NotifierOptionsOf(config).client); !s) {
    return Fail(Error::BadRequest("[notifications] ca_file: " + s.error().message));
  }
  if (!config.notification_verify_certificates) {
    spdlog::warn(
        "[notifications] verify_certificates = false: https:// receivers are not "
        "authenticated");
  }
  return Ok();
}

context::ServiceOptions ServiceOptionsOf(const Config& config) {
  return {.max_batch_entities = config.max_batch_entities,
          .max_attrs_per_entity = config.max_attributes_per_entity,
          .max_entity_bytes = config.max_entity_bytes,
          .max_entities_per_tenant = config.max_entities_per_tenant,
          .history = config.history,
          .time_index_attributes = config.history_time_index};
}

// The thread pools beside the I/O threads, their threads named for `top -H`. Joined after
// the server has stopped, before what their jobs use goes.
struct WorkerPools {
  explicit WorkerPools(const Config& config)
      : queries(EntityQueryThreads(), config.max_long_queries) {
    NamePoolThreads(identity, 2, "zc-identity");
    NamePoolThreads(history, 2, "zc-history");
  }
  void Join() {
    identity.join();
    history.join();
    queries.Join();
  }

  boost::asio::thread_pool identity{2};  // Argon2id and identity writes
  boost::asio::thread_pool history{2};   // /ql/v2 reads of the store
  api::ngsi::QueryPool queries;          // entity queries that scan, /v2/types
};

// Builds the platform on the opened data directory, runs it until a stop signal and shuts
// it down in order; returns the exit code.
int RunPlatform(const Config& config, DataDir& dir, sigset_t signals) {
  metrics::Registry metrics;
  dir.store->ExportMetrics(metrics);
  context::Writer writer(*dir.store, {}, metrics);
  context::ContextService service(writer, ServiceOptionsOf(config), metrics);
  if (auto s = service.Load(*dir.store); !s) {
    spdlog::error("{}", StartFailure("cannot load entities", config.data_dir, s.error()).message);
    return 1;
  }
  if (auto s = dir.store->AwaitSeriesCache(); !s) return 1;  // logged by the store
  spdlog::info("loaded {} entities from {}", service.EntityCount(), config.data_dir.string());
  // Destroyed before `subscriptions` (below): its callbacks call into the manager.
  auto notifier = std::make_unique<api::ngsi::HttpNotifier>(NotifierOptionsOf(config));
  context::SubscriptionManager subscriptions(writer, *notifier, SubscriptionOptionsOf(config),
                                             metrics);
  if (auto s = subscriptions.Load(*dir.store); !s) {
    spdlog::error("{}",
                  StartFailure("cannot load subscriptions", config.data_dir, s.error()).message);
    return 1;
  }
  service.Changes().Subscribe(
      [&subscriptions](const context::EntityChange& c) { subscriptions.OnChange(c); });
  Security& security = dir.security;
  WorkerPools pools(config);
  api::identity::IdentityApi identity_api{*security.directory, *security.audit,
                                          *security.audit_store, pools.identity,
                                          security.bootstrap.get()};
  http::Router router;
  RegisterRoutes(router, metrics, service, subscriptions, *dir.store, pools.history, pools.queries,
                 identity_api);
  http::Server server(ServerOptionsFittedToOpenFiles(config), router, metrics);
  Secure(server, config, security, metrics);
  if (auto s = server.Listen(); !s) {
    spdlog::error("cannot listen on {}:{}: {}", config.host, config.port, s.error().message);
    return 1;
  }
  PrintReadyLine(config, server.Port());
  Maintenance maintenance(MaintenanceTasks(config, *dir.store, service, subscriptions, security));
  RunUntilSignal(server, signals);
  maintenance.Stop();
  FlushCountersAndWait(subscriptions);
  writer.Stop();
  pools.Join();
  if (auto s = security.audit->Checkpoint(); !s) {
    spdlog::warn("final audit checkpoint failed: {}", s.error().message);
  }
  notifier.reset();
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

int Serve(const Config& config) {
  const sigset_t signals = BlockStopSignals();
  log::Init(config.log_level);
  if (auto s = CheckBeforeStart(config); !s) {
    spdlog::error("{}", s.error().message);
    return 1;
  }
  auto dir = OpenDataDir(config);
  if (!dir) {
    spdlog::error("{}", dir.error().message);
    return 1;
  }
  return RunPlatform(config, *dir, signals);
}

}  // namespace zc::app
