// JSON parsing with limits, and serialization that writes doubles in their shortest
// round-trip form (21.5, not Boost's 2.15E1), as Orion and JavaScript clients expect.
// JSON parsing with limits. Boost.JSON's parser is strict RFC 8259 by default; we only add
// a depth limit so that a hostile body cannot exhaust the stack of a later recursive walk.
#include "common/json.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>

namespace zc::json {
namespace {

void AppendJson(std::string& out, const bj::value& v);

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {  // JSON has no Infinity/NaN; parsers reject them on input anyway
    out += "null";
    return;
  }
  std::array<char, 32> buf;
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  out.append(buf.data(), ec == std::errc() ? ptr : buf.data());
}

void AppendContainer(std::string& out, const bj::value& v) {
  if (const auto* a = v.if_array()) {
    out.push_back('[');
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out.push_back(',');
      AppendJson(out, (*a)[i]);
    }
    out.push_back(']');
    return;
  }
  out.push_back('{');
  bool first = true;
  for (const auto& kv : v.get_object()) {
    if (!first) out.push_back(',');
    first = false;
    out += bj::serialize(bj::string_view(kv.key()));
    out.push_back(':');
    AppendJson(out, kv.value());
  }
  out.push_back('}');
}

void AppendJson(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::double_:
      AppendDouble(out, v.get_double());
      return;
    case bj::kind::array:
    case bj::kind::object:
      AppendContainer(out, v);
      return;
    default:
      out += bj::serialize(v);  // null, bool, integers, strings (UTF-8 kept as is)
  }
}

}  // namespace

std::string Dump(const bj::value& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

Result<bj::value> Parse(std::string_view text, const ParseLimits& limits) {
  bj::parse_options opts;
  opts.max_depth = limits.max_depth;
  boost::system::error_code ec;
  bj::stream_parser parser({}, opts);
  parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return Fail(Error::ParseError("Errors found in incoming JSON buffer"));
  return parser.release();
}

std::string_view KindName(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      return "null";
    case bj::kind::bool_:
      return "boolean";
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      return "number";
    case bj::kind::string:
      return "string";
    case bj::kind::array:
      return "array";
    case bj::kind::object:
      return "object";
  }
  return "unknown";
}

}  // namespace zc::json
