// The router: a declarative table of routes, each with a method, a path pattern, the
// permission it needs and its handler. Matching is a pure function of (method, path).
//
// Patterns are literal segments and `{name}` segments ("/v2/entities/{id}/attrs/{attr}");
// a `{name}` matches one non-empty segment. Literal segments win over parameters.
// Unmatched requests get an error rendered by the formatter of the longest matching
// prefix (so /v2 answers in NGSI's error JSON and /ql in QuantumLeap's).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/request.h"

namespace zc::http {

struct Route {
  Verb method = Verb::get;
  std::string pattern;     // "/v2/entities/{id}"
  std::string permission;  // a named permission, e.g. "context.read"; "" = public
  Handler handler;
};

// Renders an Error (not found, method not allowed, payload too large, ...) as a response.
// `ctx` is the request when one was read (null for a malformed or oversized request), so
// that a protocol can echo request headers (NGSI's Fiware-Correlator) on its errors too.
using ErrorFormatter = std::function<Response(const Error&, const RequestContext* ctx)>;

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds a route. A second route with the same method and pattern, or a HEAD route, is a
  // bug (throws std::logic_error at start-up).
  void Add(Route route);
  // The formatter for errors on paths under `prefix` (default: {"error","description"}).
  void SetErrorFormatter(std::string prefix, ErrorFormatter formatter);

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
  };
  // The route for (method, path); NotFound when no pattern matches the path,
  // MethodNotAllowed (message lists the allowed methods) when only the method differs.
  // HEAD finds the GET route (the server then sends the head of its response only).
  Result<Match> Find(Verb method, std::string_view path) const;
  // The methods defined for a path, for the Allow header of a 405 (HEAD wherever GET is).
  std::vector<Verb> AllowedMethods(std::string_view path) const;
  // Renders an error with the formatter for this path.
  Response RenderError(std::string_view path, const Error& error,
                       const RequestContext* ctx = nullptr) const;
  // Route pattern of a match, for metrics labels (bounded cardinality).
  const std::vector<Route>& Routes() const { return routes_; }

 private:
  struct Node;
  std::vector<Route> routes_;
  std::unique_ptr<Node> root_;
  std::vector<std::pair<std::string, ErrorFormatter>> formatters_;
};

// The error name of the default JSON error format, as FIWARE Orion names them
// (BadRequest, ParseError, NotFound, Unprocessable, TooManyResults, ...).
std::string_view ErrorName(ErrorCode code);

// The HTTP status for an error code (shared by all protocols).
unsigned StatusFor(ErrorCode code);

}  // namespace zc::http
