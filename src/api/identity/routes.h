// The identity APIs: the OAuth2 token endpoint (/oauth/token, /oauth/revoke), the admin
// API under /api/identity (departments, users, service accounts, roles, tokens, the
// one-time bootstrap), the audit API under /api/audit, and the request observer that
// writes one audit entry per state-changing request. Errors are {"error","description"}
// JSON, except at /oauth where they follow RFC 6749 §5.2.
//
// Blocking work (Argon2id, durable identity writes, audit queries) runs on `workers`,
// never on an I/O thread; handlers respond from there.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>

#include "common/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "identity/audit.h"
#include "identity/directory.h"

namespace zc::api::identity {

// The one-time bootstrap token of a first start without an admin token: it may create the
// first admin once, then it is gone (file deleted, hash cleared).
class BootstrapToken {
 public:
  BootstrapToken(std::string token_hash, std::filesystem::path file)
      : hash_(std::move(token_hash)), file_(std::move(file)) {}
  // True (once) when `token` is the bootstrap token; consumes it.
  bool Consume(std::string_view token);

 private:
  std::mutex mu_;
  std::string hash_;
  std::filesystem::path file_;
};

struct IdentityApi {
  zc::identity::Directory& directory;
  zc::identity::AuditLog& audit;
  zc::identity::AuditStore& audit_store;
  boost::asio::thread_pool& workers;
  BootstrapToken* bootstrap = nullptr;  // null when the directory was not empty at start
};

void RegisterOAuthRoutes(http::Router& router, IdentityApi& api);
void RegisterIdentityRoutes(http::Router& router, IdentityApi& api);
void RegisterAuditRoutes(http::Router& router, IdentityApi& api);

// Writes an audit entry for every request to a matched route that changes state (not
// GET/HEAD/OPTIONS) and for every denied request (401/403/429), except the identity and
// OAuth routes, whose handlers write richer entries themselves. 429s are sampled per client
// address (10 a minute after a burst of 10), the others counted as
// zhicheng_audit_unrecorded_total in `metrics`.
http::RequestObserver AuditObserver(zc::identity::AuditLog& audit, metrics::Registry& metrics);

}  // namespace zc::api::identity
