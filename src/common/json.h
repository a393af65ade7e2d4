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

// Parses `text` as one JSON document. Errors are ParseError: Orion's text for bad syntax,
// or one naming the depth limit.
Result<bj::value> Parse(std::string_view text, const ParseLimits& limits = {});

// Serializes compactly; doubles in shortest round-trip form ("21.5", "1e+21").
std::string Dump(const bj::value& v);

// The JSON type name used in error messages ("object", "string", ...).
std::string_view KindName(const bj::value& v);

// NoResources for an answer whose text would pass `max_bytes` ([http] max_response_bytes):
// "the answer would exceed N bytes (max_response_bytes): ask for fewer <ask>".
Error AnswerTooLarge(size_t max_bytes, std::string_view ask);

// A JSON array written as text one element at a time within a byte budget, so that a
// large answer fails as soon as it would pass the budget instead of after it took the
// memory of its whole text.
class BoundedArrayWriter {
 public:
  // `ask` completes AnswerTooLarge's advice ("entities (limit) or attributes (attrs)").
  BoundedArrayWriter(size_t max_bytes, std::string_view ask) : max_bytes_(max_bytes), ask_(ask) {}
  // Appends one serialized JSON value; AnswerTooLarge if the array (closed) would not fit.
  Status Append(std::string_view element);
  size_t Count() const { return count_; }
  // The array's text.
  std::string Finish() &&;

 private:
  size_t max_bytes_;
  std::string_view ask_;
  std::string text_ = "[";
  size_t count_ = 0;
};

}  // namespace zc::json
