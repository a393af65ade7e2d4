// JSON helpers over Boost.JSON: parsing with explicit limits and typed field access that
// returns Results instead of throwing, so that request mapping code stays linear.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "common/result.h"

namespace zc::json {

namespace bj = boost::json;

struct ParseLimits {
  size_t max_depth = 32;  // nesting of objects/arrays
};

// Parses `text` as one JSON document. Errors are BadRequest with a short position hint.
Result<bj::value> Parse(std::string_view text, const ParseLimits& limits = {});

// Serializes compactly; doubles in shortest round-trip form ("21.5", "1e+21").
std::string Dump(const bj::value& v);

// The JSON type name used in error messages ("object", "string", ...).
std::string_view KindName(const bj::value& v);

}  // namespace zc::json
