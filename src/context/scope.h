// Tenancy: `Fiware-Service` names a tenant (complete separation) and `Fiware-ServicePath`
// scopes entities hierarchically inside it, as Orion defines them:
//  - tenant: up to 50 chars of [a-z0-9_] (Orion lowercases; we accept upper case and
//    lowercase it), "" is the default tenant;
//  - a service path: "/" or "/a/b", up to 10 levels, each 1..50 chars of [A-Za-z0-9_];
//  - writes take exactly one path (no '#'); default "/";
//  - reads take up to 10 comma-separated paths, each optionally ending in "/#" (the
//    subtree); default "/#" (everything).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace zc::context {

inline constexpr size_t kMaxServicePaths = 10;

Result<std::string> ParseTenant(std::string_view header);
Result<std::string> ParseWritePath(std::string_view header);

// A set of read scopes. Matches("/a/b") is true if any scope covers the path.
class PathScope {
 public:
  static Result<PathScope> Parse(std::string_view header);
  static PathScope All();
  bool Matches(std::string_view path) const;
  bool IsAll() const { return all_; }
  // True when the scope matches no path at all (after a Restrict to disjoint prefixes).
  bool IsEmpty() const { return !all_ && items_.empty(); }
  // The intersection with the subtrees of `prefixes` (paths such as "/" or "/a/b"): what a
  // caller granted only those prefixes may see of this scope.
  PathScope Restrict(const std::vector<std::string>& prefixes) const;
  // True when every path this scope covers lies in the subtree of one of `prefixes`: a
  // caller granted those prefixes may see all of it ("/a/#" within "/a" or "/", not "/a/b").
  bool Within(const std::vector<std::string>& prefixes) const;
  // Every scope widened to its subtree ("/a" as "/a/#"): how QuantumLeap reads
  // Fiware-ServicePath, as a prefix.
  PathScope Subtrees() const;
  const std::vector<std::string>& Patterns() const { return patterns_; }  // as given

 private:
  struct Item {
    std::string path;
    bool subtree = false;
  };
  std::vector<Item> items_;
  std::vector<std::string> patterns_;
  bool all_ = false;
};

}  // namespace zc::context
