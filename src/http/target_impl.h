// Private to http/: decoding of a request target into the path and query of a
// RequestContext. Declared here so that server.cpp and the tests share one implementation.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace zc::http {

struct DecodedTarget {
  std::string path;                                        // percent-decoded, no query
  std::vector<std::pair<std::string, std::string>> query;  // percent-decoded, in order
};

// Splits an origin-form target ("/v2/entities?q=a>1&limit=10") and decodes %XX escapes;
// in the query '+' is a space (as in forms and Orion), in the path it is '+'. BadRequest
// when the target does not start with '/' or holds a malformed escape.
Result<DecodedTarget> DecodeTarget(std::string_view target);

}  // namespace zc::http
