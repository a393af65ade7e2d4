// JSON parsing with limits, and serialization that writes doubles in their shortest
// round-trip form (21.5, not Boost's 2.15E1), as Orion and JavaScript clients expect.
//
// Parsing is Boost.JSON's parser (strict RFC 8259) with two changes: a depth limit, so that
// a hostile body cannot exhaust the stack of a later recursive walk, and numbers with a
// fraction or exponent converted from their text by std::from_chars, which rounds
// correctly. Boost 1.81 converts with its own fast method, which can be one unit in the last
// place off (-0.22699406087817986 became -0.22699406087817983): a client would then read back
// another number than it wrote, and `q=level==<what it wrote>` would not match. Shortest
// round-trip output plus correctly rounded input give the number back exactly.
#include "common/json.h"

#include <fmt/format.h>
#include <boost/json/basic_parser_impl.hpp>

#include <array>
#include <charconv>
#include <cmath>

namespace zc::json {
namespace {

// Boost's own value-building handler (boost/json/detail/handler.hpp), with on_double
// taking the number from its text.
class PreciseHandler {
 public:
  static constexpr size_t max_object_size = bj::object::max_size();
  static constexpr size_t max_array_size = bj::array::max_size();
  static constexpr size_t max_key_size = bj::string::max_size();
  static constexpr size_t max_string_size = bj::string::max_size();

  explicit PreciseHandler(bj::storage_ptr sp) : st(std::move(sp)) {}

  bool on_document_begin(bj::error_code& /*ec*/) { return true; }
  bool on_document_end(bj::error_code& /*ec*/) { return true; }
  bool on_object_begin(bj::error_code& /*ec*/) { return true; }
  bool on_object_end(size_t n, bj::error_code& /*ec*/) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code& /*ec*/) { return true; }
  bool on_array_end(size_t n, bj::error_code& /*ec*/) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, size_t /*n*/, bj::error_code& /*ec*/) {
    st.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, size_t /*n*/, bj::error_code& /*ec*/) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, size_t /*n*/, bj::error_code& /*ec*/) {
    st.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, size_t /*n*/, bj::error_code& /*ec*/) {
    st.push_string(s);
    return true;
  }
  // Parse() hands the parser the whole text in one call (more = false), so a number is
  // never split into parts: `s` of on_double is all of it.
  bool on_number_part(bj::string_view /*s*/, bj::error_code& /*ec*/) { return true; }
  bool on_int64(int64_t i, bj::string_view /*s*/, bj::error_code& /*ec*/) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, bj::string_view /*s*/, bj::error_code& /*ec*/) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view s, bj::error_code& /*ec*/) {
    const std::string_view text(s.data(), s.size());
    double exact = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), exact);
    // Out of range (1e400): Boost's value, which the callers reject as not finite.
    st.push_double(ec == std::errc() && end == text.data() + text.size() ? exact : d);
    return true;
  }
  bool on_bool(bool b, bj::error_code& /*ec*/) {
    st.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code& /*ec*/) {
    st.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view /*s*/, bj::error_code& /*ec*/) { return true; }
  bool on_comment(bj::string_view /*s*/, bj::error_code& /*ec*/) { return true; }

  bj::value_stack st;  // NOLINT(misc-non-private-member-variables-in-classes): as Boost's
};

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
  bj::basic_parser<PreciseHandler> parser(opts, bj::storage_ptr());
  parser.handler().st.reset(bj::storage_ptr());
  bj::error_code ec;
  const size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec == bj::error::too_deep) {  // our limit, not a syntax error: say which
    return Fail(Error::ParseError(
        fmt::format("JSON nested deeper than {} levels of objects and arrays", limits.max_depth)));
  }
  if (ec || used != text.size() || !parser.done()) {
    return Fail(Error::ParseError("Errors found in incoming JSON buffer"));
  }
  return parser.handler().st.release();
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

Error AnswerTooLarge(size_t max_bytes, std::string_view ask) {
  return Error::NoResources(fmt::format(
      "the answer would exceed {} bytes (max_response_bytes): ask for fewer {}", max_bytes, ask));
}

Status BoundedArrayWriter::Append(std::string_view element) {
  const size_t separator = count_ > 0 ? 1 : 0;
  if (text_.size() + separator + element.size() + 1 > max_bytes_) {
    return Fail(AnswerTooLarge(max_bytes_, ask_));
  }
  if (separator != 0) text_.push_back(',');
  text_ += element;
  ++count_;
  return Ok();
}

std::string BoundedArrayWriter::Finish() && {
  text_.push_back(']');
  return std::move(text_);
}

}  // namespace zc::json
