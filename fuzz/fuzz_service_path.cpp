// libFuzzer target for tenancy (context/scope.h): `Fiware-Service` and `Fiware-ServicePath`
// as a request gives them, and the narrowing of a read scope to a caller's granted service
// paths, which is what keeps one department's entities from another's.
//
// Input: lines separated by '\n':
//   1 a Fiware-Service value   2 a Fiware-ServicePath value (a read scope)
//   3 the granted prefixes, comma-separated (each taken as a write path, as grants are)
//   4.. entity service paths to test (each taken as a write path)
// Properties (abort() with a message when one breaks), over the entity paths given, the
// scope's and the grants' own paths, a child and the parent of each, and "/":
// - a tenant ParseTenant returns is lower case [a-z0-9_] and parses to itself;
// - Matches agrees with the patterns the scope reports ("/#" everything, "P/#" P and what
//   lies below it, "P" P alone);
// - Restrict(grants) matches exactly what the scope matches and lies within a grant;
// - Within(grants) is true exactly when nothing the scope matches lies outside the grants
//   (when false, one of the scope's own paths is the witness);
// - Subtrees() matches exactly what lies within one of the scope's paths;
// - a write path is a read scope that matches it, and so is its subtree.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "context/scope.h"

namespace {

using zc::context::PathScope;

[[noreturn]] void Fail(const char* what, std::string_view first, std::string_view second = {}) {
  std::fprintf(stderr, "fuzz_service_path: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
               second.data());
  std::abort();
}

// The model: `path` is `prefix` or lies below it.
bool Under(std::string_view path, std::string_view prefix) {
  if (prefix == "/") return true;
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

// The model of Matches, from the patterns alone.
bool PatternsMatch(const std::vector<std::string>& patterns, std::string_view path) {
  return std::ranges::any_of(patterns, [path](std::string_view p) {
    if (p == "/#") return true;
    if (p.ends_with("/#")) return Under(path, p.substr(0, p.size() - 2));
    return path == p;
  });
}

std::string_view BaseOf(std::string_view pattern) {
  if (pattern == "/#") return "/";
  if (pattern.ends_with("/#")) pattern.remove_suffix(2);
  return pattern;
}

bool InGrants(const std::vector<std::string>& grants, std::string_view path) {
  return std::ranges::any_of(grants, [path](const std::string& g) { return Under(path, g); });
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(separator, start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Valid write paths of `candidates`, with a child and the parent of each, and "/".
std::vector<std::string> PathsToTest(const std::vector<std::string_view>& candidates) {
  std::vector<std::string> out{"/"};
  for (std::string_view c : candidates) {
    auto path = zc::context::ParseWritePath(c);
    if (!path) continue;
    out.push_back(*path);
    out.push_back(*path == "/" ? "/x" : *path + "/x");
    const size_t slash = path->rfind('/');
    out.push_back(slash == 0 ? "/" : path->substr(0, slash));
  }
  return out;
}

void CheckTenant(std::string_view header) {
  auto tenant = zc::context::ParseTenant(header);
  if (!tenant) return;
  const bool lower = std::ranges::all_of(
      *tenant, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
  if (!lower) Fail("ParseTenant returned more than [a-z0-9_]", header, *tenant);
  auto again = zc::context::ParseTenant(*tenant);
  if (!again || *again != *tenant) Fail("ParseTenant does not return a tenant as it is", *tenant);
}

void CheckScope(const PathScope& scope, const std::vector<std::string>& grants,
                const std::vector<std::string>& paths, std::string_view header) {
  const PathScope restricted = scope.Restrict(grants);
  const PathScope subtrees = scope.Subtrees();
  const bool within = scope.Within(grants);
  for (const std::string& p : paths) {
    const bool matches = scope.Matches(p);
    if (matches != PatternsMatch(scope.Patterns(), p)) {
      Fail("Matches disagrees with the scope's patterns", header, p);
    }
    if (restricted.Matches(p) != (matches && InGrants(grants, p))) {
      Fail("Restrict does not match what the scope and the grants both cover", header, p);
    }
    if (within && matches && !InGrants(grants, p)) {
      Fail("Within is true, but the scope matches a path outside the grants", header, p);
    }
    const bool below = std::ranges::any_of(
        scope.Patterns(), [&p](const std::string& pattern) { return Under(p, BaseOf(pattern)); });
    if (subtrees.Matches(p) != below) Fail("Subtrees does not match below the scope", header, p);
  }
  if (!within) {  // a witness: one of the scope's own paths lies outside the grants
    const bool witness = std::ranges::any_of(scope.Patterns(), [&](const std::string& pattern) {
      return scope.Matches(BaseOf(pattern)) && !InGrants(grants, BaseOf(pattern));
    });
    if (!witness) Fail("Within is false, but every path of the scope lies in the grants", header);
  }
}

void CheckWritePaths(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) {
    if (!zc::context::ParseWritePath(p)) continue;  // a child one level too deep
    auto self = PathScope::Parse(p);
    auto subtree = PathScope::Parse(p == "/" ? "/#" : p + "/#");
    if (!self || !subtree) Fail("a write path is not a valid read scope", p);
    if (!self->Matches(p) || !subtree->Matches(p)) Fail("a path's own scope misses it", p);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = Split(input, '\n');
  const auto line = [&lines](size_t i) { return i < lines.size() ? lines[i] : std::string_view{}; };
  CheckTenant(line(0));
  CheckTenant(input);
  auto scope = PathScope::Parse(line(1));
  if (!scope) return 0;
  std::vector<std::string> grants;
  for (std::string_view g : Split(line(2), ',')) {
    if (auto path = zc::context::ParseWritePath(g)) grants.push_back(*path);
  }
  std::vector<std::string_view> candidates;
  for (size_t i = 3; i < lines.size(); ++i) candidates.push_back(lines[i]);
  for (const std::string& pattern : scope->Patterns()) candidates.push_back(BaseOf(pattern));
  for (const std::string& g : grants) candidates.push_back(g);
  const std::vector<std::string> paths = PathsToTest(candidates);
  CheckScope(*scope, grants, paths, line(1));
  CheckWritePaths(paths);
  return 0;
}
