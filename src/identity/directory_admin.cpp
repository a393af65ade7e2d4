// Directory: departments, users and service accounts (create, read, update, delete).
// Each mutation validates the whole resulting object, writes it durably, then publishes it
// and refreshes the cached principals of the subject's tokens.
#include <fmt/format.h>

#include <algorithm>

#include "common/json.h"
#include "identity/codec.h"
#include "identity/directory.h"
#include "identity/roles.h"

namespace zc::identity {
namespace {

template <typename Map>
auto Values(const Map& map) {
  std::vector<typename Map::mapped_type> out;
  out.reserve(map.size());
  for (const auto& [key, value] : map) out.push_back(value);
  return out;
}

Status CheckRoles(const std::vector<std::string>& roles) {
  for (const auto& role : roles) {
    if (!IsKnownRole(role)) return Fail(Error::BadRequest(fmt::format("unknown role '{}'", role)));
  }
  return Ok();
}

Status CheckStatus(const std::string& status) {
  if (status == kStatusActive || status == kStatusDisabled) return Ok();
  return Fail(Error::BadRequest("status must be 'active' or 'disabled'"));
}

Status CheckDisplayName(std::string_view what, std::string_view name) {
  if (name.size() > 200) return Fail(Error::BadRequest(fmt::format("{}: at most 200 bytes", what)));
  return Ok();
}

}  // namespace

// ---- departments ----

std::vector<Department> Directory::ListDepartments() const {
  std::shared_lock lock(mu_);
  auto out = Values(state_.departments);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.code < b.code; });
  return out;
}

Result<Department> Directory::GetDepartment(std::string_view code) const {
  std::shared_lock lock(mu_);
  auto it = state_.departments.find(std::string(code));
  if (it == state_.departments.end()) {
    return Fail(Error::NotFound(fmt::format("no department '{}'", code)));
  }
  return it->second;
}

// REQUIRES: write_mu_ held.
Status Directory::ValidateDepartment(const Department& d, bool creating) const {
  if (auto s = CheckName("code", d.code); !s) return s;
  if (d.name.empty()) return Fail(Error::BadRequest("department: name is required"));
  if (auto s = CheckDisplayName("name", d.name); !s) return s;
  if (creating && state_.departments.contains(d.code)) {
    return Fail(Error::AlreadyExists(fmt::format("department '{}' exists", d.code)));
  }
  // The parent must exist and must not be the department itself or one of its descendants.
  for (std::string p = d.parent; !p.empty();) {
    if (p == d.code) return Fail(Error::BadRequest("department: parent would make a cycle"));
    auto it = state_.departments.find(p);
    if (it == state_.departments.end()) {
      return Fail(Error::BadRequest(fmt::format("department: no parent '{}'", p)));
    }
    p = it->second.parent;
  }
  return Ok();
}

Status Directory::CreateDepartment(Department d) {
  std::lock_guard write(write_mu_);
  if (auto s = ValidateDepartment(d, true); !s) return s;
  if (auto s = store_.Put({kKindDepartment, d.code, json::Dump(ToJson(d))}); !s) return s;
  std::unique_lock lock(mu_);
  state_.departments[d.code] = std::move(d);
  return Ok();
}

Status Directory::UpdateDepartment(std::string_view code,
                                   const std::function<Status(Department&)>& edit) {
  std::lock_guard write(write_mu_);
  auto it = state_.departments.find(std::string(code));
  if (it == state_.departments.end()) {
    return Fail(Error::NotFound(fmt::format("no department '{}'", code)));
  }
  Department d = it->second;
  if (auto s = edit(d); !s) return s;
  d.code = std::string(code);
  if (auto s = ValidateDepartment(d, false); !s) return s;
  if (auto s = store_.Put({kKindDepartment, d.code, json::Dump(ToJson(d))}); !s) return s;
  std::unique_lock lock(mu_);
  state_.departments[d.code] = std::move(d);
  return Ok();
}

Status Directory::DeleteDepartment(std::string_view code) {
  std::lock_guard write(write_mu_);
  const std::string key(code);
  if (!state_.departments.contains(key)) {
    return Fail(Error::NotFound(fmt::format("no department '{}'", code)));
  }
  auto in_use = [&](const auto& map) {
    return std::any_of(map.begin(), map.end(), [&](const auto& kv) {
      if constexpr (requires { kv.second.parent; }) {
        return kv.second.parent == key;
      } else {
        return kv.second.department == key;
      }
    });
  };
  if (in_use(state_.departments) || in_use(state_.users) || in_use(state_.accounts)) {
    return Fail(Error::Unprocessable(
        fmt::format("department '{}' still has sub-units, users or accounts", code)));
  }
  if (auto s = store_.Delete(kKindDepartment, key); !s) return s;
  std::unique_lock lock(mu_);
  state_.departments.erase(key);
  return Ok();
}

// ---- users ----

std::vector<User> Directory::ListUsers() const {
  std::shared_lock lock(mu_);
  auto out = Values(state_.users);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.login < b.login; });
  return out;
}

Result<User> Directory::GetUser(std::string_view login) const {
  std::shared_lock lock(mu_);
  auto it = state_.users.find(std::string(login));
  if (it == state_.users.end()) return Fail(Error::NotFound(fmt::format("no user '{}'", login)));
  return it->second;
}

// REQUIRES: write_mu_ held.
Status Directory::ValidateUser(const User& u) const {
  if (auto s = CheckName("login", u.login); !s) return s;
  if (auto s = CheckDisplayName("displayName", u.display_name); !s) return s;
  if (auto s = CheckRoles(u.roles); !s) return s;
  if (auto s = CheckStatus(u.status); !s) return s;
  if (!u.department.empty() && !state_.departments.contains(u.department)) {
    return Fail(Error::BadRequest(fmt::format("no department '{}'", u.department)));
  }
  return Ok();
}

Status Directory::PutUser(const User& u) {
  if (auto s = store_.Put({kKindUser, u.login, json::Dump(ToJson(u, View::kStored))}); !s) {
    return s;
  }
  std::unique_lock lock(mu_);
  state_.users[u.login] = u;
  RefreshPrincipals(u.login);
  return Ok();
}

Status Directory::CreateUser(User user, std::string_view password, TimeMs now) {
  Result<std::string> hash = std::string();  // no password: a token-only account
  if (!password.empty()) {
    if (auto s = CheckPasswordPolicy(password, user.login); !s) return s;
    hash = HashPassword(password, options_.password_limits);
    if (!hash) return Fail(hash.error());
  }
  std::lock_guard write(write_mu_);
  if (auto s = ValidateUser(user); !s) return s;
  if (state_.users.contains(user.login) || state_.accounts.contains(user.login)) {
    return Fail(Error::AlreadyExists(fmt::format("'{}' exists", user.login)));
  }
  user.password_hash = std::move(*hash);
  user.created = now;
  user.failed_logins = user.lockouts = 0;
  user.locked_until = 0;
  return PutUser(user);
}

Result<User> Directory::UpdateUser(std::string_view login,
                                   const std::function<Status(User&)>& edit) {
  std::lock_guard write(write_mu_);
  auto it = state_.users.find(std::string(login));
  if (it == state_.users.end()) return Fail(Error::NotFound(fmt::format("no user '{}'", login)));
  User u = it->second;
  if (auto s = edit(u); !s) return Fail(s.error());
  u.login = it->second.login;
  u.password_hash = it->second.password_hash;
  if (auto s = ValidateUser(u); !s) return Fail(s.error());
  if (u.locked_until == 0) u.failed_logins = u.lockouts = 0;  // an admin unlock
  if (auto s = PutUser(u); !s) return Fail(s.error());
  return u;
}

Status Directory::SetPassword(std::string_view login, std::string_view password) {
  if (auto s = CheckPasswordPolicy(password, login); !s) return s;
  auto hash = HashPassword(password, options_.password_limits);
  if (!hash) return Fail(hash.error());
  std::lock_guard write(write_mu_);
  auto it = state_.users.find(std::string(login));
  if (it == state_.users.end()) return Fail(Error::NotFound(fmt::format("no user '{}'", login)));
  User u = it->second;
  u.password_hash = std::move(*hash);
  u.failed_logins = u.lockouts = 0;
  u.locked_until = 0;
  return PutUser(u);
}

Status Directory::DeleteUser(std::string_view login) {
  std::lock_guard write(write_mu_);
  const std::string key(login);
  if (!state_.users.contains(key)) return Fail(Error::NotFound(fmt::format("no user '{}'", login)));
  if (auto s = RevokeWhere([&](const TokenRecord& t) { return t.subject == key; }); !s) return s;
  if (auto s = store_.Delete(kKindUser, key); !s) return s;
  std::unique_lock lock(mu_);
  state_.users.erase(key);
  RefreshPrincipals(key);
  return Ok();
}

// ---- service accounts ----

std::vector<ServiceAccount> Directory::ListServiceAccounts() const {
  std::shared_lock lock(mu_);
  auto out = Values(state_.accounts);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.client_id < b.client_id; });
  return out;
}

Result<ServiceAccount> Directory::GetServiceAccount(std::string_view client_id) const {
  std::shared_lock lock(mu_);
  auto it = state_.accounts.find(std::string(client_id));
  if (it == state_.accounts.end()) {
    return Fail(Error::NotFound(fmt::format("no service account '{}'", client_id)));
  }
  return it->second;
}

// REQUIRES: write_mu_ held.
Status Directory::ValidateAccount(const ServiceAccount& a) const {
  if (auto s = CheckName("clientId", a.client_id); !s) return s;
  if (auto s = CheckDisplayName("name", a.name); !s) return s;
  if (auto s = CheckRoles(a.roles); !s) return s;
  if (auto s = CheckStatus(a.status); !s) return s;
  if (a.kind != "service" && a.kind != "device") {
    return Fail(Error::BadRequest("kind must be 'service' or 'device'"));
  }
  if (!a.department.empty() && !state_.departments.contains(a.department)) {
    return Fail(Error::BadRequest(fmt::format("no department '{}'", a.department)));
  }
  return Ok();
}

Status Directory::PutAccount(const ServiceAccount& a) {
  if (auto s = store_.Put({kKindServiceAccount, a.client_id, json::Dump(ToJson(a, View::kStored))});
      !s) {
    return s;
  }
  std::unique_lock lock(mu_);
  state_.accounts[a.client_id] = a;
  RefreshPrincipals(a.client_id);
  return Ok();
}

Result<ServiceAccountSecret> Directory::CreateServiceAccount(ServiceAccount account, TimeMs now) {
  std::lock_guard write(write_mu_);
  if (auto s = ValidateAccount(account); !s) return Fail(s.error());
  if (state_.accounts.contains(account.client_id) || state_.users.contains(account.client_id)) {
    return Fail(Error::AlreadyExists(fmt::format("'{}' exists", account.client_id)));
  }
  ServiceAccountSecret out;
  out.secret = RandomToken("zcs_");
  account.secret_hash = Sha256Hex(out.secret);
  account.created = now;
  if (auto s = PutAccount(account); !s) return Fail(s.error());
  out.account = std::move(account);
  return out;
}

Result<ServiceAccount> Directory::UpdateServiceAccount(
    std::string_view client_id, const std::function<Status(ServiceAccount&)>& edit) {
  std::lock_guard write(write_mu_);
  auto it = state_.accounts.find(std::string(client_id));
  if (it == state_.accounts.end()) {
    return Fail(Error::NotFound(fmt::format("no service account '{}'", client_id)));
  }
  ServiceAccount a = it->second;
  if (auto s = edit(a); !s) return Fail(s.error());
  a.client_id = it->second.client_id;
  a.secret_hash = it->second.secret_hash;
  if (auto s = ValidateAccount(a); !s) return Fail(s.error());
  if (auto s = PutAccount(a); !s) return Fail(s.error());
  return a;
}

Result<ServiceAccountSecret> Directory::RotateSecret(std::string_view client_id) {
  std::lock_guard write(write_mu_);
  auto it = state_.accounts.find(std::string(client_id));
  if (it == state_.accounts.end()) {
    return Fail(Error::NotFound(fmt::format("no service account '{}'", client_id)));
  }
  ServiceAccountSecret out{it->second, RandomToken("zcs_")};
  out.account.secret_hash = Sha256Hex(out.secret);
  if (auto s = PutAccount(out.account); !s) return Fail(s.error());
  return out;
}

Status Directory::DeleteServiceAccount(std::string_view client_id) {
  std::lock_guard write(write_mu_);
  const std::string key(client_id);
  if (!state_.accounts.contains(key)) {
    return Fail(Error::NotFound(fmt::format("no service account '{}'", client_id)));
  }
  if (auto s = RevokeWhere([&](const TokenRecord& t) { return t.subject == key; }); !s) return s;
  if (auto s = store_.Delete(kKindServiceAccount, key); !s) return s;
  std::unique_lock lock(mu_);
  state_.accounts.erase(key);
  RefreshPrincipals(key);
  return Ok();
}

}  // namespace zc::identity
