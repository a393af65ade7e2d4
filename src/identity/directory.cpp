// Directory: loading, authentication and tokens. The CRUD of departments, users and
// service accounts is in directory_admin.cpp.
#include "identity/directory.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/json.h"
#include "identity/codec.h"
#include "identity/roles.h"

namespace zc::identity {

// A user or a service account, seen the same way for token issuing.
struct Directory::Subject {
  std::string name;
  std::string kind;  // user, service, device
  std::string department;
  std::vector<std::string> roles;
  std::vector<TenantGrant> tenants;
  bool active = false;
};

namespace {

bool PathUnder(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::vector<std::string> Intersect(const std::vector<std::string>& wanted,
                                   const std::vector<std::string>& allowed) {
  std::vector<std::string> out;
  for (const auto& w : wanted) {
    if (std::find(allowed.begin(), allowed.end(), w) != allowed.end()) out.push_back(w);
  }
  return out;
}

// The token's grants that the subject's grants still cover (they may have shrunk).
std::vector<TenantGrant> CoveredGrants(const std::vector<TenantGrant>& token,
                                       const std::vector<TenantGrant>& subject) {
  if (token.empty()) return subject;
  std::vector<TenantGrant> out;
  for (const auto& g : token) {
    if (std::any_of(subject.begin(), subject.end(),
                    [&](const TenantGrant& by) { return GrantCovers(by, g); })) {
      out.push_back(g);
    }
  }
  return out;
}

}  // namespace

bool GrantCovers(const TenantGrant& by, const TenantGrant& grant) {
  if (by.tenant != "*" && by.tenant != grant.tenant) return false;
  if (grant.write && !by.write) return false;
  return PathUnder(grant.path, by.path);
}

Status CheckName(std::string_view what, std::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' ||
               c == '-';
      });
  if (ok) return Ok();
  return Fail(Error::BadRequest(
      fmt::format("{} must be 1 to 64 characters of letters, digits, _ . @ -", what)));
}

Directory::Directory(IdentityStore& store, DirectoryOptions options)
    : store_(store), options_(options) {}

const std::string& Directory::DummyHash() {
  std::call_once(dummy_once_, [this] {
    dummy_hash_ = HashPassword(RandomHex(16), options_.password_limits).value_or("");
  });
  return dummy_hash_;
}

Status Directory::Load() {
  auto documents = store_.LoadAll();
  if (!documents) return Fail(documents.error());
  std::lock_guard write(write_mu_);
  std::unique_lock lock(mu_);
  state_ = {};
  for (const StoredDocument& doc : *documents) {
    if (auto s = LoadDocument(doc); !s) return s;
  }
  for (auto& [hash, entry] : state_.tokens) entry.principal = BuildPrincipal(entry.record);
  return Ok();
}

Status Directory::LoadDocument(const StoredDocument& doc) {
  auto value = json::Parse(doc.json);
  if (!value) return Fail(Error::Internal("identity store: bad document " + doc.key));
  auto bad = [&](const Error& e) {
    return Fail(
        Error::Internal(fmt::format("identity store: {} {}: {}", doc.kind, doc.key, e.message)));
  };
  if (doc.kind == kKindDepartment) {
    auto d = DepartmentFromJson(*value);
    if (!d) return bad(d.error());
    state_.departments[d->code] = std::move(*d);
  } else if (doc.kind == kKindUser) {
    auto u = UserFromJson(*value);
    if (!u) return bad(u.error());
    state_.users[u->login] = std::move(*u);
  } else if (doc.kind == kKindServiceAccount) {
    auto a = ServiceAccountFromJson(*value);
    if (!a) return bad(a.error());
    state_.accounts[a->client_id] = std::move(*a);
  } else if (doc.kind == kKindToken) {
    auto t = TokenFromJson(*value);
    if (!t) return bad(t.error());
    std::string hash = t->hash;  // read before the record is moved
    state_.tokens[std::move(hash)] = TokenEntry{std::move(*t), nullptr};
  }
  return Ok();
}

bool Directory::Empty() const {
  std::shared_lock lock(mu_);
  return state_.users.empty() && state_.accounts.empty();
}

// REQUIRES: mu_ held (shared or exclusive), or write_mu_ held.
std::optional<Directory::Subject> Directory::FindSubject(std::string_view name) const {
  const std::string key(name);
  if (auto u = state_.users.find(key); u != state_.users.end()) {
    const User& user = u->second;
    return Subject{user.login, "user",       user.department,
                   user.roles, user.tenants, user.status == kStatusActive};
  }
  if (auto a = state_.accounts.find(key); a != state_.accounts.end()) {
    const ServiceAccount& acc = a->second;
    return Subject{acc.client_id, acc.kind,    acc.department,
                   acc.roles,     acc.tenants, acc.status == kStatusActive};
  }
  return std::nullopt;
}

std::shared_ptr<const Principal> Directory::BuildPrincipal(const TokenRecord& token) const {
  auto subject = FindSubject(token.subject);
  if (!subject || !subject->active || token.revoked) return nullptr;
  auto p = std::make_shared<Principal>();
  p->subject = subject->name;
  p->kind = subject->kind;
  p->department = subject->department;
  p->token_id = token.id;
  p->roles = token.roles.empty() ? subject->roles : Intersect(token.roles, subject->roles);
  p->permissions = PermissionsOf(p->roles);
  p->tenants = CoveredGrants(token.tenants, subject->tenants);
  p->expires = token.expires;
  return p;
}

// REQUIRES: mu_ held exclusively.
void Directory::RefreshPrincipals(std::string_view subject) {
  for (auto& [hash, entry] : state_.tokens) {
    if (entry.record.subject == subject) entry.principal = BuildPrincipal(entry.record);
  }
}

Result<std::shared_ptr<const Principal>> Directory::Authenticate(std::string_view token,
                                                                 TimeMs now) const {
  const std::string hash = Sha256Hex(token);
  std::shared_lock lock(mu_);
  auto it = state_.tokens.find(hash);
  if (it == state_.tokens.end() || !it->second.principal ||
      (it->second.record.expires != 0 && it->second.record.expires <= now)) {
    return Fail(Error::Unauthorized("invalid or expired token"));
  }
  return it->second.principal;
}

Status Directory::PutToken(const TokenRecord& t) {
  return store_.Put({kKindToken, t.hash, json::Dump(ToJson(t, View::kStored))});
}

// REQUIRES: write_mu_ held.
Result<IssuedToken> Directory::Issue(const Subject& subject, const TokenRequest& request,
                                     TimeMs now) {
  if (!subject.active) return Fail(Error::Forbidden("the account is disabled"));
  for (const auto& role : request.roles) {
    if (std::find(subject.roles.begin(), subject.roles.end(), role) == subject.roles.end()) {
      return Fail(
          Error::BadRequest(fmt::format("scope: {} does not hold role {}", subject.name, role)));
    }
  }
  for (const auto& g : request.tenants) {
    if (std::none_of(subject.tenants.begin(), subject.tenants.end(),
                     [&](const TenantGrant& by) { return GrantCovers(by, g); })) {
      return Fail(Error::BadRequest(fmt::format("tenants: {} may not use tenant '{}' path {}",
                                                subject.name, g.tenant, g.path)));
    }
  }
  IssuedToken issued;
  issued.token = request.text.empty() ? RandomToken("zc_") : request.text;
  TokenRecord& t = issued.record;
  t.id = RandomHex(8);
  t.hash = Sha256Hex(issued.token);
  t.kind = request.api_key ? kTokenApiKey : kTokenBearer;
  t.subject = subject.name;
  t.subject_kind = subject.kind;
  t.roles = request.roles;
  t.tenants = request.tenants;
  t.description = request.description;
  t.issued = now;
  const auto ttl =
      request.ttl.value_or(request.api_key ? std::chrono::seconds{0} : options_.token_ttl);
  t.expires = ttl.count() > 0 ? now + ttl.count() * 1000 : 0;
  if (auto s = PutToken(t); !s) return Fail(s.error());
  std::unique_lock lock(mu_);
  state_.tokens[t.hash] = TokenEntry{t, BuildPrincipal(t)};
  return issued;
}

Result<IssuedToken> Directory::IssueToken(std::string_view subject, const TokenRequest& request,
                                          TimeMs now) {
  std::lock_guard write(write_mu_);
  auto found = FindSubject(subject);
  if (!found) return Fail(Error::NotFound(fmt::format("no user or account '{}'", subject)));
  return Issue(*found, request, now);
}

Result<IssuedToken> Directory::PasswordGrant(std::string_view login, std::string_view password,
                                             const TokenRequest& request, TimeMs now) {
  std::string hash;
  {
    std::shared_lock lock(mu_);
    auto it = state_.users.find(std::string(login));
    if (it != state_.users.end()) {
      if (it->second.locked_until > now) {
        return Fail(Error::Forbidden("too many failed logins: the account is locked for now"));
      }
      hash = it->second.password_hash;
    }
  }
  const bool known = !hash.empty();
  const bool verified = VerifyPassword(password, known ? hash : DummyHash()) && known;
  std::lock_guard write(write_mu_);
  if (!verified) {
    if (known) {
      if (auto s = RecordFailure(std::string(login), now); !s) return Fail(s.error());
    }
    return Fail(Error::Unauthorized("invalid login or password"));
  }
  auto user = state_.users.find(std::string(login));
  if (user == state_.users.end()) return Fail(Error::Unauthorized("invalid login or password"));
  if (user->second.failed_logins != 0 || user->second.lockouts != 0) {
    User reset = user->second;
    reset.failed_logins = 0;
    reset.lockouts = 0;
    reset.locked_until = 0;
    if (auto s = PutUser(reset); !s) return Fail(s.error());
  }
  return Issue(*FindSubject(login), request, now);
}

// REQUIRES: write_mu_ held.
Status Directory::RecordFailure(const std::string& login, TimeMs now) {
  auto it = state_.users.find(login);
  if (it == state_.users.end()) return Ok();
  User u = it->second;
  ++u.failed_logins;
  if (options_.max_login_failures > 0 &&
      u.failed_logins >= static_cast<int>(options_.max_login_failures)) {
    const int64_t factor = int64_t{1} << std::min(u.lockouts, 16);
    u.locked_until = now + options_.lockout.count() * 1000 * factor;
    u.failed_logins = 0;
    ++u.lockouts;
  }
  return PutUser(u);
}

Result<IssuedToken> Directory::ClientCredentialsGrant(std::string_view client_id,
                                                      std::string_view secret,
                                                      const TokenRequest& request, TimeMs now) {
  std::lock_guard write(write_mu_);
  auto it = state_.accounts.find(std::string(client_id));
  const std::string given = Sha256Hex(secret);
  if (it == state_.accounts.end() || !ConstantTimeEquals(given, it->second.secret_hash)) {
    return Fail(Error::Unauthorized("invalid client credentials"));
  }
  return Issue(*FindSubject(client_id), request, now);
}

Status Directory::RevokeWhere(const std::function<bool(const TokenRecord&)>& match) {
  std::vector<TokenRecord> revoked;
  for (const auto& [hash, entry] : state_.tokens) {
    if (!entry.record.revoked && match(entry.record)) {
      revoked.push_back(entry.record);
      revoked.back().revoked = true;
    }
  }
  for (const TokenRecord& t : revoked) {
    if (auto s = PutToken(t); !s) return s;
    std::unique_lock lock(mu_);
    state_.tokens[t.hash] = TokenEntry{t, nullptr};
  }
  return Ok();
}

Status Directory::RevokeToken(std::string_view id) {
  std::lock_guard write(write_mu_);
  const bool exists = std::any_of(state_.tokens.begin(), state_.tokens.end(),
                                  [&](const auto& kv) { return kv.second.record.id == id; });
  if (!exists) return Fail(Error::NotFound(fmt::format("no token with id '{}'", id)));
  return RevokeWhere([&](const TokenRecord& t) { return t.id == id; });
}

Status Directory::RevokeTokenText(std::string_view token) {
  const std::string hash = Sha256Hex(token);
  std::lock_guard write(write_mu_);
  return RevokeWhere([&](const TokenRecord& t) { return t.hash == hash; });
}

std::vector<TokenRecord> Directory::ListTokens(std::string_view subject) const {
  std::shared_lock lock(mu_);
  std::vector<TokenRecord> out;
  for (const auto& [hash, entry] : state_.tokens) {
    if (subject.empty() || entry.record.subject == subject) out.push_back(entry.record);
  }
  std::sort(out.begin(), out.end(),
            [](const TokenRecord& a, const TokenRecord& b) { return a.issued < b.issued; });
  return out;
}

Result<size_t> Directory::PurgeTokens(TimeMs now) {
  std::lock_guard write(write_mu_);
  std::vector<std::string> dead;
  for (const auto& [hash, entry] : state_.tokens) {
    const auto& t = entry.record;
    if (t.revoked || (t.expires != 0 && t.expires <= now)) dead.push_back(hash);
  }
  for (const auto& hash : dead) {
    if (auto s = store_.Delete(kKindToken, hash); !s) return Fail(s.error());
    std::unique_lock lock(mu_);
    state_.tokens.erase(hash);
  }
  return dead.size();
}

}  // namespace zc::identity
