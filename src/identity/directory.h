// The Directory: departments, users, service accounts and tokens, held in memory and
// written through to an IdentityStore. It answers the hot-path question "whom does this
// token speak for?" with a cached, immutable Principal under a shared lock, and it runs
// the slow paths (Argon2id password checks, durable writes) without holding that lock.
//
// Threading: every method is thread-safe. Mutations are serialised by one mutex held
// across the store write, then published under a short exclusive lock, so readers never
// wait for a disk write. Blocking methods (password checks, store writes) must not run on
// an I/O thread: api/identity runs them on a worker pool.
//
// Expected failures: NotFound for an unknown name, AlreadyExists on create, BadRequest for
// invalid input, Unauthorized for bad credentials (never saying which part was wrong),
// Forbidden for a disabled or locked account.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "identity/model.h"
#include "identity/secrets.h"
#include "identity/store.h"

namespace zc::identity {

struct DirectoryOptions {
  std::chrono::seconds token_ttl{8 * 3600};
  unsigned max_login_failures = 5;
  std::chrono::seconds lockout{60};  // first lockout; doubles on each further one
  PasswordLimits password_limits;
};

// What a token should carry; empty lists mean "everything the subject has".
struct TokenRequest {
  std::vector<std::string> roles;
  std::vector<TenantGrant> tenants;
  std::string description;
  std::optional<std::chrono::seconds> ttl;  // default: the directory's token_ttl
  bool api_key = false;                     // does not expire unless ttl is given
  std::string text;                         // a given token text (bootstrap); else random
};

struct IssuedToken {
  std::string token;  // the token text: shown once, never stored
  TokenRecord record;
};

struct ServiceAccountSecret {
  ServiceAccount account;
  std::string secret;  // shown once
};

// True when `grant` is within `by` (same or wildcard tenant, path under the prefix,
// write only if `by` allows writes).
bool GrantCovers(const TenantGrant& by, const TenantGrant& grant);
// Checks a login, client id or department code: [A-Za-z0-9_.@-]{1,64}.
Status CheckName(std::string_view what, std::string_view name);

class Directory {
 public:
  Directory(IdentityStore& store, DirectoryOptions options);
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  Status Load();
  // True when no user and no service account exists yet (first start).
  bool Empty() const;

  // The hot path: the principal of a valid, unexpired, unrevoked token of an active
  // subject; Unauthorized otherwise.
  Result<std::shared_ptr<const Principal>> Authenticate(std::string_view token, TimeMs now) const;

  // OAuth2 grants. Failed password logins count towards the lockout.
  Result<IssuedToken> PasswordGrant(std::string_view login, std::string_view password,
                                    const TokenRequest& request, TimeMs now);
  Result<IssuedToken> ClientCredentialsGrant(std::string_view client_id, std::string_view secret,
                                             const TokenRequest& request, TimeMs now);
  // Issues a token for a user or service account by name (admin API, CLI, bootstrap).
  Result<IssuedToken> IssueToken(std::string_view subject, const TokenRequest& request, TimeMs now);
  Status RevokeToken(std::string_view id);
  // RFC 7009: revoking an unknown token is not an error.
  Status RevokeTokenText(std::string_view token);
  std::vector<TokenRecord> ListTokens(std::string_view subject) const;  // "" = all
  // Removes expired and revoked tokens from memory and store; returns how many.
  Result<size_t> PurgeTokens(TimeMs now);

  std::vector<Department> ListDepartments() const;
  Result<Department> GetDepartment(std::string_view code) const;
  Status CreateDepartment(Department d);
  Status UpdateDepartment(std::string_view code, const std::function<Status(Department&)>& edit);
  Status DeleteDepartment(std::string_view code);

  std::vector<User> ListUsers() const;
  Result<User> GetUser(std::string_view login) const;
  // An empty password makes a token-only account (no password login), e.g. the admin
  // created from ZHICHENG_ADMIN_TOKEN.
  Status CreateUser(User user, std::string_view password, TimeMs now);
  // `edit` changes display name, department, roles, tenants or status (not the login).
  Result<User> UpdateUser(std::string_view login, const std::function<Status(User&)>& edit);
  Status SetPassword(std::string_view login, std::string_view password);
  Status DeleteUser(std::string_view login);

  std::vector<ServiceAccount> ListServiceAccounts() const;
  Result<ServiceAccount> GetServiceAccount(std::string_view client_id) const;
  Result<ServiceAccountSecret> CreateServiceAccount(ServiceAccount account, TimeMs now);
  Result<ServiceAccount> UpdateServiceAccount(std::string_view client_id,
                                              const std::function<Status(ServiceAccount&)>& edit);
  Result<ServiceAccountSecret> RotateSecret(std::string_view client_id);
  Status DeleteServiceAccount(std::string_view client_id);

 private:
  struct Subject;
  struct TokenEntry {
    TokenRecord record;
    std::shared_ptr<const Principal> principal;  // null when the subject is not active
  };
  struct State {
    std::unordered_map<std::string, Department> departments;
    std::unordered_map<std::string, User> users;
    std::unordered_map<std::string, ServiceAccount> accounts;
    std::unordered_map<std::string, TokenEntry> tokens;  // by token hash
  };

  Status LoadDocument(const StoredDocument& doc);
  std::optional<Subject> FindSubject(std::string_view name) const;
  std::shared_ptr<const Principal> BuildPrincipal(const TokenRecord& token) const;
  void RefreshPrincipals(std::string_view subject);
  Result<IssuedToken> Issue(const Subject& subject, const TokenRequest& request, TimeMs now);
  Status ValidateUser(const User& u) const;
  Status ValidateAccount(const ServiceAccount& a) const;
  Status ValidateDepartment(const Department& d, bool creating) const;
  Status RecordFailure(const std::string& login, TimeMs now);
  Status PutUser(const User& u);
  Status PutAccount(const ServiceAccount& a);
  Status PutToken(const TokenRecord& t);
  Status RevokeWhere(const std::function<bool(const TokenRecord&)>& match);

  IdentityStore& store_;
  const DirectoryOptions options_;
  // Verified for unknown logins, so that timing reveals nothing; made at the first such
  // login rather than at start-up (an Argon2id hash costs 64 MiB and ~0.1 s).
  const std::string& DummyHash();
  std::once_flag dummy_once_;
  std::string dummy_hash_;
  std::mutex write_mu_;           // serialises mutations (held across store writes)
  mutable std::shared_mutex mu_;  // guards state_
  State state_;
};

}  // namespace zc::identity
