// The route table as a segment trie.
//
// Each node has literal children (by segment text), at most one `{param}` child, and the
// endpoints (method -> route) of patterns that end there. Matching walks the path's
// segments depth-first, trying the literal child before the parameter child and
// backtracking when a branch dead-ends, so "/v2/entities/count" beats "/v2/entities/{id}"
// but "/v2/entities/x/attrs" can still reach "/v2/entities/{id}/attrs". Parameter names
// are stored per endpoint, since two patterns may name the same position differently.
#include "http/router.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace zc::http {

struct Router::Node {
  struct Endpoint {
    Verb method;
    size_t route_index;
    std::vector<std::string> param_names;  // in path order
  };
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::vector<Endpoint> endpoints;
};

namespace {

// "/a/b" -> {"a","b"}; "/" -> {}; "/a/" -> {"a",""} (a trailing slash is its own segment).
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool IsParam(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Visits every endpoint list whose pattern matches `segments`, literal branches first.
// `visit` returns true to stop the walk. `values` collects the parameter segments.
// (A template over the node type because Router::Node is private to the class.)
template <typename TrieNode, typename Visit>
bool Walk(const TrieNode& node, const std::vector<std::string_view>& segments, size_t depth,
          std::vector<std::string_view>& values, Visit& visit) {
  if (depth == segments.size()) return visit(node, values);
  const std::string_view segment = segments[depth];
  if (auto it = node.literals.find(segment); it != node.literals.end()) {
    if (Walk(*it->second, segments, depth + 1, values, visit)) return true;
  }
  if (node.param && !segment.empty()) {
    values.push_back(segment);
    if (Walk(*node.param, segments, depth + 1, values, visit)) return true;
    values.pop_back();
  }
  return false;
}

std::string JoinMethods(const std::vector<Verb>& methods) {
  std::string joined;
  for (Verb method : methods) {
    if (!joined.empty()) joined += ", ";
    joined += beast_http::to_string(method);
  }
  return joined;
}

Response DefaultErrorFormatter(const Error& error) {
  boost::json::object body;
  body["error"] = ErrorName(error.code);
  body["description"] = error.message;
  return Response::Json(StatusFor(error.code), boost::json::serialize(body));
}

// Whether `prefix` covers `path` on a segment boundary ("/v2" covers "/v2/x", not "/v2x").
bool CoversPath(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || prefix.ends_with('/') || path[prefix.size()] == '/';
}

}  // namespace

std::string_view ErrorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
      return "BadRequest";
    case ErrorCode::kParseError:
      return "ParseError";
    case ErrorCode::kNotFound:
      return "NotFound";
    case ErrorCode::kAlreadyExists:
      return "Unprocessable";  // Orion: 422 "Already Exists"
    case ErrorCode::kTooManyResults:
      return "TooManyResults";
    case ErrorCode::kUnprocessable:
      return "Unprocessable";
    case ErrorCode::kMethodNotAllowed:
      return "MethodNotAllowed";
    case ErrorCode::kPayloadTooLarge:
      return "RequestEntityTooLarge";
    case ErrorCode::kNoResources:
      return "NoResourcesAvailable";
    case ErrorCode::kUnsupportedMedia:
      return "UnsupportedMediaType";
    case ErrorCode::kLengthRequired:
      return "ContentLengthRequired";
    case ErrorCode::kNotAcceptable:
      return "NotAcceptable";
    case ErrorCode::kUnauthorized:
      return "Unauthorized";
    case ErrorCode::kForbidden:
      return "Forbidden";
    case ErrorCode::kTooManyRequests:
      return "TooManyRequests";
    case ErrorCode::kUnavailable:
      return "ServiceUnavailable";
    case ErrorCode::kInternal:
    case ErrorCode::kDataLoss:
      return "InternalServerError";
  }
  return "InternalServerError";
}

unsigned StatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kParseError:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 422;
    case ErrorCode::kTooManyResults:
      return 409;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kNoResources:
      return 413;
    case ErrorCode::kUnsupportedMedia:
      return 415;
    case ErrorCode::kLengthRequired:
      return 411;
    case ErrorCode::kNotAcceptable:
      return 406;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kTooManyRequests:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
    case ErrorCode::kDataLoss:
      return 500;
  }
  return 500;
}

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::Add(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/') {
    throw std::logic_error(fmt::format("route pattern must start with '/': {}", route.pattern));
  }
  if (!route.handler) {
    throw std::logic_error(fmt::format("route without handler: {}", route.pattern));
  }
  if (route.method == Verb::head) {  // Find answers HEAD with the GET route
    throw std::logic_error(fmt::format("HEAD route {}: add the GET route", route.pattern));
  }
  Node* node = root_.get();
  std::vector<std::string> param_names;
  for (std::string_view segment : SplitPath(route.pattern)) {
    if (IsParam(segment)) {
      param_names.emplace_back(segment.substr(1, segment.size() - 2));
      if (!node->param) node->param = std::make_unique<Node>();
      node = node->param.get();
    } else {
      auto& child = node->literals[std::string(segment)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
  }
  for (const Node::Endpoint& endpoint : node->endpoints) {
    if (endpoint.method == route.method) {
      throw std::logic_error(fmt::format("duplicate route {} {} (same shape as {})",
                                         beast_http::to_string(route.method), route.pattern,
                                         routes_[endpoint.route_index].pattern));
    }
  }
  node->endpoints.push_back({route.method, routes_.size(), std::move(param_names)});
  routes_.push_back(std::move(route));
}

void Router::SetErrorFormatter(std::string prefix, ErrorFormatter formatter) {
  for (auto& [existing, current] : formatters_) {
    if (existing == prefix) {
      current = std::move(formatter);
      return;
    }
  }
  formatters_.emplace_back(std::move(prefix), std::move(formatter));
}

Result<Router::Match> Router::Find(Verb method, std::string_view path) const {
  const std::vector<std::string_view> segments = SplitPath(path);
  std::vector<std::string_view> values;
  Match match;
  const Verb wanted = method == Verb::head ? Verb::get : method;  // HEAD is GET without body
  auto with_method = [&](const Node& node, const std::vector<std::string_view>& found) {
    for (const Node::Endpoint& endpoint : node.endpoints) {
      if (endpoint.method != wanted) continue;
      match.route = &routes_[endpoint.route_index];
      for (size_t i = 0; i < found.size(); ++i) {
        match.params.emplace_back(endpoint.param_names[i], std::string(found[i]));
      }
      return true;
    }
    return false;
  };
  if (Walk(*root_, segments, 0, values, with_method)) return match;
  const std::vector<Verb> allowed = AllowedMethods(path);
  if (allowed.empty()) {
    return Fail(Error::NotFound(fmt::format("no resource at {}", path)));
  }
  return Fail(Error::MethodNotAllowed(fmt::format(
      "method {} not allowed; allowed: {}", beast_http::to_string(method), JoinMethods(allowed))));
}

std::vector<Verb> Router::AllowedMethods(std::string_view path) const {
  const std::vector<std::string_view> segments = SplitPath(path);
  std::vector<std::string_view> values;
  std::vector<Verb> allowed;
  auto collect = [&](const Node& node, const std::vector<std::string_view>&) {
    for (const Node::Endpoint& endpoint : node.endpoints) {
      if (std::find(allowed.begin(), allowed.end(), endpoint.method) == allowed.end()) {
        allowed.push_back(endpoint.method);
      }
    }
    return false;  // keep walking: every matching pattern contributes its methods
  };
  Walk(*root_, segments, 0, values, collect);
  if (std::find(allowed.begin(), allowed.end(), Verb::get) != allowed.end()) {
    allowed.push_back(Verb::head);
  }
  std::sort(allowed.begin(), allowed.end());
  return allowed;
}

Response Router::RenderError(std::string_view path, const Error& error,
                             const RequestContext* ctx) const {
  const ErrorFormatter* best = nullptr;
  size_t best_length = 0;
  for (const auto& [prefix, formatter] : formatters_) {
    if (CoversPath(prefix, path) && (best == nullptr || prefix.size() > best_length)) {
      best = &formatter;
      best_length = prefix.size();
    }
  }
  return best != nullptr ? (*best)(error, ctx) : DefaultErrorFormatter(error);
}

}  // namespace zc::http
