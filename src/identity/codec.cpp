#include "identity/codec.h"

#include <fmt/format.h>

namespace zc::identity {
namespace bj = boost::json;
namespace {

bj::array StringArray(const std::vector<std::string>& items) {
  bj::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

bj::array GrantArray(const std::vector<TenantGrant>& grants) {
  bj::array a;
  for (const auto& g : grants) a.push_back(ToJson(g));
  return a;
}

// Typed field readers: absent keeps the default, a wrong type is an error.
class Reader {
 public:
  Reader(const bj::object& o, std::string_view what) : o_(o), what_(what) {}

  Status Str(std::string_view key, std::string& out) const {
    const bj::value* v = o_.if_contains(key);
    if (!v) return Ok();
    if (!v->is_string()) return Wrong(key, "a string");
    out = std::string(v->get_string());
    return Ok();
  }
  Status Int(std::string_view key, int64_t& out) const {
    const bj::value* v = o_.if_contains(key);
    if (!v) return Ok();
    if (!v->is_int64()) return Wrong(key, "an integer");
    out = v->get_int64();
    return Ok();
  }
  Status Bool(std::string_view key, bool& out) const {
    const bj::value* v = o_.if_contains(key);
    if (!v) return Ok();
    if (!v->is_bool()) return Wrong(key, "true or false");
    out = v->get_bool();
    return Ok();
  }
  Status Strings(std::string_view key, std::vector<std::string>& out) const {
    const bj::value* v = o_.if_contains(key);
    if (!v) return Ok();
    if (!v->is_array()) return Wrong(key, "a list of strings");
    out.clear();
    for (const auto& item : v->get_array()) {
      if (!item.is_string()) return Wrong(key, "a list of strings");
      out.emplace_back(item.get_string());
    }
    return Ok();
  }
  Status Grants(std::string_view key, std::vector<TenantGrant>& out) const {
    const bj::value* v = o_.if_contains(key);
    if (!v) return Ok();
    auto grants = TenantGrantsFromJson(*v);
    if (!grants) return Fail(grants.error());
    out = std::move(*grants);
    return Ok();
  }

 private:
  Status Wrong(std::string_view key, std::string_view expected) const {
    return Fail(Error::BadRequest(fmt::format("{}: {} must be {}", what_, key, expected)));
  }
  const bj::object& o_;
  std::string_view what_;
};

Status FirstError(std::initializer_list<Status> statuses) {
  for (const Status& s : statuses) {
    if (!s) return s;
  }
  return Ok();
}

Result<const bj::object*> ObjectOf(const bj::value& v, std::string_view what) {
  if (!v.is_object()) return Fail(Error::BadRequest(fmt::format("{} must be a JSON object", what)));
  return &v.get_object();
}

}  // namespace

bj::value ToJson(const TenantGrant& g) {
  return bj::object{{"tenant", g.tenant}, {"path", g.path}, {"write", g.write}};
}

bj::value ToJson(const Department& d) {
  return bj::object{{"code", d.code}, {"name", d.name}, {"parent", d.parent}, {"kind", d.kind}};
}

bj::value ToJson(const User& u, View view) {
  bj::object o{{"login", u.login},
               {"displayName", u.display_name},
               {"department", u.department},
               {"roles", StringArray(u.roles)},
               {"tenants", GrantArray(u.tenants)},
               {"status", u.status},
               {"created", u.created},
               {"lockedUntil", u.locked_until}};
  if (view == View::kStored) {
    o["passwordHash"] = u.password_hash;
    o["failedLogins"] = u.failed_logins;
    o["lockouts"] = u.lockouts;
  }
  return o;
}

bj::value ToJson(const ServiceAccount& a, View view) {
  bj::object o{{"clientId", a.client_id},
               {"name", a.name},
               {"department", a.department},
               {"kind", a.kind},
               {"roles", StringArray(a.roles)},
               {"tenants", GrantArray(a.tenants)},
               {"status", a.status},
               {"created", a.created}};
  if (view == View::kStored) o["secretHash"] = a.secret_hash;
  return o;
}

bj::value ToJson(const TokenRecord& t, View view) {
  bj::object o{{"id", t.id},
               {"kind", t.kind},
               {"subject", t.subject},
               {"subjectKind", t.subject_kind},
               {"roles", StringArray(t.roles)},
               {"tenants", GrantArray(t.tenants)},
               {"description", t.description},
               {"issued", t.issued},
               {"expires", t.expires},
               {"revoked", t.revoked}};
  if (view == View::kStored) o["hash"] = t.hash;
  return o;
}

Result<TenantGrant> TenantGrantFromJson(const bj::value& v) {
  auto o = ObjectOf(v, "tenant grant");
  if (!o) return Fail(o.error());
  TenantGrant g;
  Reader r(**o, "tenant grant");
  if (auto s =
          FirstError({r.Str("tenant", g.tenant), r.Str("path", g.path), r.Bool("write", g.write)});
      !s) {
    return Fail(s.error());
  }
  if (g.path.empty() || g.path.front() != '/') {
    return Fail(Error::BadRequest("tenant grant: path must start with '/'"));
  }
  return g;
}

Result<TenantGrant> ParseGrantSpec(std::string_view spec) {
  const size_t a = spec.find(':');
  const size_t b = spec.rfind(':');
  if (a == std::string_view::npos || a == b) {
    return Fail(Error::BadRequest(fmt::format("'{}' is not TENANT:PATH:r|rw", spec)));
  }
  const std::string_view mode = spec.substr(b + 1);
  const std::string_view path = spec.substr(a + 1, b - a - 1);
  if ((mode != "r" && mode != "rw") || !path.starts_with('/')) {
    return Fail(Error::BadRequest(fmt::format("'{}' is not TENANT:PATH:r|rw", spec)));
  }
  return TenantGrant{std::string(spec.substr(0, a)), std::string(path), mode == "rw"};
}

Result<std::vector<TenantGrant>> TenantGrantsFromJson(const bj::value& v) {
  if (!v.is_array()) return Fail(Error::BadRequest("tenants must be a list of grants"));
  std::vector<TenantGrant> grants;
  for (const auto& item : v.get_array()) {
    auto g = TenantGrantFromJson(item);
    if (!g) return Fail(g.error());
    grants.push_back(std::move(*g));
  }
  return grants;
}

Result<Department> DepartmentFromJson(const bj::value& v) {
  auto o = ObjectOf(v, "department");
  if (!o) return Fail(o.error());
  Department d;
  Reader r(**o, "department");
  if (auto s = FirstError({r.Str("code", d.code), r.Str("name", d.name), r.Str("parent", d.parent),
                           r.Str("kind", d.kind)});
      !s) {
    return Fail(s.error());
  }
  return d;
}

Result<User> UserFromJson(const bj::value& v) {
  auto o = ObjectOf(v, "user");
  if (!o) return Fail(o.error());
  User u;
  Reader r(**o, "user");
  int64_t failed = 0, lockouts = 0;
  if (auto s = FirstError({r.Str("login", u.login), r.Str("displayName", u.display_name),
                           r.Str("department", u.department), r.Strings("roles", u.roles),
                           r.Grants("tenants", u.tenants), r.Str("status", u.status),
                           r.Int("created", u.created), r.Int("lockedUntil", u.locked_until),
                           r.Str("passwordHash", u.password_hash), r.Int("failedLogins", failed),
                           r.Int("lockouts", lockouts)});
      !s) {
    return Fail(s.error());
  }
  u.failed_logins = static_cast<int>(failed);
  u.lockouts = static_cast<int>(lockouts);
  return u;
}

Result<ServiceAccount> ServiceAccountFromJson(const bj::value& v) {
  auto o = ObjectOf(v, "service account");
  if (!o) return Fail(o.error());
  ServiceAccount a;
  Reader r(**o, "service account");
  if (auto s = FirstError({r.Str("clientId", a.client_id), r.Str("name", a.name),
                           r.Str("department", a.department), r.Str("kind", a.kind),
                           r.Strings("roles", a.roles), r.Grants("tenants", a.tenants),
                           r.Str("status", a.status), r.Int("created", a.created),
                           r.Str("secretHash", a.secret_hash)});
      !s) {
    return Fail(s.error());
  }
  return a;
}

Result<TokenRecord> TokenFromJson(const bj::value& v) {
  auto o = ObjectOf(v, "token");
  if (!o) return Fail(o.error());
  TokenRecord t;
  Reader r(**o, "token");
  if (auto s = FirstError({r.Str("id", t.id), r.Str("kind", t.kind), r.Str("subject", t.subject),
                           r.Str("subjectKind", t.subject_kind), r.Strings("roles", t.roles),
                           r.Grants("tenants", t.tenants), r.Str("description", t.description),
                           r.Int("issued", t.issued), r.Int("expires", t.expires),
                           r.Bool("revoked", t.revoked), r.Str("hash", t.hash)});
      !s) {
    return Fail(s.error());
  }
  return t;
}

}  // namespace zc::identity
