// Validation and matching of tenants and service paths (rules in scope.h). Error messages
// follow Orion's ("a component of ServicePath contains an illegal character", ...).
#include "context/scope.h"

#include <algorithm>
#include <cctype>

namespace zc::context {
namespace {

constexpr size_t kMaxTenantLength = 50;
constexpr size_t kMaxLevels = 10;
constexpr size_t kMaxLevelLength = 50;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Validates one path without '#'. "/" is valid.
Status ValidatePath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return Fail(Error::BadRequest(
        "Only /absolute/ Service Paths allowed [a service path must begin with /]"));
  }
  if (path == "/") return Ok();
  size_t levels = 0;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view level = path.substr(start, end - start);
    if (level.empty()) return Fail(Error::BadRequest("empty component in ServicePath"));
    if (level.size() > kMaxLevelLength) {
      return Fail(Error::BadRequest("component-name too long in ServicePath"));
    }
    const bool ok = std::all_of(level.begin(), level.end(),
                                [](unsigned char c) { return std::isalnum(c) || c == '_'; });
    if (!ok) {
      return Fail(Error::BadRequest("a component of ServicePath contains an illegal character"));
    }
    if (++levels > kMaxLevels) return Fail(Error::BadRequest("too many components in ServicePath"));
    start = end + 1;
  }
  return Ok();
}

}  // namespace

Result<std::string> ParseTenant(std::string_view header) {
  if (header.size() > kMaxTenantLength) {
    return Fail(Error::BadRequest("bad length for service/tenant name"));
  }
  std::string tenant;
  for (unsigned char c : header) {
    if (!std::isalnum(c) && c != '_') {
      return Fail(Error::BadRequest("bad character in tenant name"));
    }
    tenant.push_back(static_cast<char>(std::tolower(c)));
  }
  return tenant;
}

Result<std::string> ParseWritePath(std::string_view header) {
  header = Trim(header);
  if (header.empty()) return std::string("/");
  if (header.find(',') != std::string_view::npos) {
    return Fail(Error::BadRequest("more than one service path in context update request"));
  }
  if (header.find('#') != std::string_view::npos) {
    return Fail(Error::BadRequest("service path with wildcard # not allowed in an update request"));
  }
  std::string path(header);
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  if (auto s = ValidatePath(path); !s) return Fail(s.error());
  return path;
}

Result<PathScope> PathScope::Parse(std::string_view header) {
  header = Trim(header);
  if (header.empty()) return All();
  PathScope scope;
  size_t start = 0;
  while (start <= header.size()) {
    const size_t end = std::min(header.find(',', start), header.size());
    std::string_view one = Trim(header.substr(start, end - start));
    start = end + 1;
    if (scope.items_.size() == kMaxServicePaths) {
      return Fail(
          Error::BadRequest("too many service paths - a maximum of ten service paths is allowed"));
    }
    Item item;
    if (one.ends_with("/#")) {
      item.subtree = true;
      one.remove_suffix(2);
      if (one.empty()) one = "/";
    } else if (one.find('#') != std::string_view::npos) {
      return Fail(Error::BadRequest("a component of ServicePath contains an illegal character"));
    }
    if (one.size() > 1 && one.back() == '/') one.remove_suffix(1);
    if (auto s = ValidatePath(one); !s) return Fail(s.error());
    item.path = std::string(one);
    if (item.subtree && item.path == "/") scope.all_ = true;
    scope.patterns_.emplace_back(item.subtree ? (item.path == "/" ? "/#" : item.path + "/#")
                                              : item.path);
    scope.items_.push_back(std::move(item));
  }
  return scope;
}

PathScope PathScope::All() {
  PathScope scope;
  scope.items_.push_back({"/", true});
  scope.patterns_.push_back("/#");
  scope.all_ = true;
  return scope;
}

bool PathScope::Matches(std::string_view path) const {
  if (all_) return true;
  for (const auto& item : items_) {
    if (path == item.path) return true;
    if (item.subtree && path.size() > item.path.size() && path.starts_with(item.path) &&
        (item.path == "/" || path[item.path.size()] == '/')) {
      return true;
    }
  }
  return false;
}

}  // namespace zc::context

namespace zc::context {
namespace {

// True when `path` is `prefix` or lies below it.
bool Under(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

PathScope PathScope::Restrict(const std::vector<std::string>& prefixes) const {
  PathScope out;
  auto add = [&out](const std::string& path, bool subtree) {
    if (subtree && path == "/") out.all_ = true;
    out.patterns_.push_back(subtree ? (path == "/" ? "/#" : path + "/#") : path);
    out.items_.push_back({path, subtree});
  };
  for (const Item& item : items_) {
    for (const std::string& prefix : prefixes) {
      if (Under(item.path, prefix)) {  // the item lies inside the grant: keep it whole
        add(item.path, item.subtree);
        break;
      }
      if (item.subtree && Under(prefix, item.path)) add(prefix, true);  // the grant inside
    }
  }
  return out;
}

bool PathScope::Within(const std::vector<std::string>& prefixes) const {
  return std::ranges::all_of(items_, [&prefixes](const Item& item) {
    return std::ranges::any_of(prefixes,
                               [&item](const std::string& p) { return Under(item.path, p); });
  });
}

PathScope PathScope::Subtrees() const {
  PathScope out;
  for (const Item& item : items_) {
    if (item.path == "/") out.all_ = true;
    out.patterns_.push_back(item.path == "/" ? "/#" : item.path + "/#");
    out.items_.push_back({item.path, true});
  }
  out.all_ = out.all_ || all_;
  return out;
}

}  // namespace zc::context
