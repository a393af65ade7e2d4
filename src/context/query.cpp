// The Simple Query Language (q, mq): parsing into statements, and matching entities.
//
// Design. Parsing does all the work that does not depend on the entity: the query is split
// into statements at `;` outside quotes; each statement is split at its operator (the first
// one found outside quotes, scanning left to right, as Orion does); the left-hand side
// becomes a path of unquoted segments and the right-hand side a list of Literals with their
// number, text and ISO 8601 time already parsed, or a compiled regular expression.
//
// Matching resolves a statement's path on the entity to a borrowed JSON value (or a
// built-in such as the entity id), turns it into a Scalar view (number, string, boolean,
// null, time) and compares it with the literals. Nothing is allocated and nothing is
// serialized; DateTime targets parse their ISO text on the fly (no allocation).
//
// Regular expressions use Boost.Regex (header-only, ECMAScript/Perl syntax, the syntax Orion's
// MongoDB backend uses) rather than std::regex: libstdc++'s matcher recurses per input
// character and can overflow the stack on long attribute values, while Boost's matcher is
// iterative and reports excessive complexity instead; such a statement then does not match.
#include "context/query.h"

#include <boost/regex.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

#include "context/pattern_search.h"

namespace zc::context {

namespace {

enum class Op : uint8_t { kExists, kNotExists, kEq, kNe, kGt, kGe, kLt, kLe, kMatch };

// What a `q` left-hand side refers to when it is not an attribute.
enum class Builtin : uint8_t {
  kNone,
  kId,
  kType,
  kDateCreated,
  kDateModified,
  kDateExpires,
  kAttrCreated,   // mq: attr.dateCreated
  kAttrModified,  // mq: attr.dateModified
};

enum class Kind : uint8_t { kNumber, kString, kBool, kNull, kTime, kOther };

// A right-hand-side value, parsed once. Unquoted ISO dates are strings with a time: they
// compare as times with DateTime targets and as text with other string targets.
struct Literal {
  Kind kind = Kind::kString;  // kNumber, kString, kBool or kNull
  double number = 0;
  bool boolean = false;
  std::string text;            // the string (without quotes)
  std::optional<TimeMs> time;  // `text` as ISO 8601, when it is one
};

}  // namespace

struct Filter::Statement {
  Op op = Op::kExists;
  Builtin builtin = Builtin::kNone;
  bool is_mq = false;
  bool is_range = false;  // values = {from, to}
  std::string attr;
  std::string metadata;           // mq only
  std::vector<std::string> path;  // into the attribute (q) or metadata (mq) value
  std::vector<Literal> values;    // one value, a list (any of), or a range
  std::optional<boost::regex> regex;
};

namespace {

using Statement = Filter::Statement;

// ---------------------------------------------------------------------------------------
// Lexing helpers

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// Splits at `sep` outside single quotes; nullopt when a quote is left open.
std::optional<std::vector<std::string_view>> SplitOutsideQuotes(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\'') {
      quoted = !quoted;
    } else if (s[i] == sep && !quoted) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (quoted) return std::nullopt;
  parts.push_back(s.substr(start));
  return parts;
}

size_t FindOutsideQuotes(std::string_view s, std::string_view needle) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\'') {
      quoted = !quoted;
    } else if (!quoted && s.substr(i, needle.size()) == needle) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string Shorten(std::string_view s) {
  constexpr size_t kMaxEcho = 80;
  if (s.size() <= kMaxEcho) return std::string(s);
  return std::string(s.substr(0, kMaxEcho)) + "...";
}

// The error for one statement: "Invalid query: <what> in q item 'temperature=='".
Error Bad(const Statement& st, std::string_view what, std::string_view item) {
  return Error::BadRequest("Invalid query: " + std::string(what) + " in " +
                           (st.is_mq ? "mq" : "q") + " item '" + Shorten(item) + "'");
}

struct OpMatch {
  Op op = Op::kExists;
  size_t pos = std::string_view::npos;
  size_t len = 0;
};

// The first operator outside quotes, scanning left to right (Orion's opFind).
OpMatch FindOperator(std::string_view s) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'') {
      quoted = !quoted;
      continue;
    }
    if (quoted) continue;
    if (i + 1 < s.size() && s[i + 1] == '=') {
      switch (c) {
        case '=':
          return {Op::kEq, i, 2};
        case '~':
          return {Op::kMatch, i, 2};
        case '!':
          return {Op::kNe, i, 2};
        case '>':
          return {Op::kGe, i, 2};
        case '<':
          return {Op::kLe, i, 2};
        default:
          break;
      }
    }
    if (c == '<') return {Op::kLt, i, 1};
    if (c == '>') return {Op::kGt, i, 1};
    if (c == ':') return {Op::kEq, i, 1};
  }
  return {};
}

bool IsOrdering(Op op) {
  return op == Op::kGt || op == Op::kGe || op == Op::kLt || op == Op::kLe;
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kNe:
      return "!=";
    case Op::kMatch:
      return "~=";
    default:
      return "==";
  }
}

// ---------------------------------------------------------------------------------------
// Left-hand side

bool IsNameChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) return false;
  constexpr std::string_view kSyntax = "<>=!~\"();,";
  return kSyntax.find(c) == std::string_view::npos;
}

// Splits a path at dots outside quotes and removes the quotes: `'a.b'.c` is {"a.b", "c"}.
Result<std::vector<std::string>> ParsePath(const Statement& st, std::string_view lhs,
                                           std::string_view item) {
  std::vector<std::string> segments(1);
  bool quoted = false;
  bool had_quote = false;  // the current segment was (partly) quoted: '' is an empty name
  for (const char c : lhs) {
    if (c == '\'') {
      quoted = !quoted;
      had_quote = true;
    } else if (c == '.' && !quoted) {
      if (segments.back().empty()) return Fail(Bad(st, "empty attribute path segment", item));
      segments.emplace_back();
      had_quote = false;
    } else if (!quoted && !IsNameChar(c)) {
      constexpr std::string_view kOps = "<>=!~";
      return Fail(
          Bad(st, kOps.find(c) != kOps.npos ? "unknown operator" : "invalid character", item));
    } else {
      segments.back().push_back(c);
    }
  }
  if (quoted) return Fail(Bad(st, "unbalanced quote", item));
  if (segments.back().empty()) {
    return Fail(Bad(st, had_quote ? "empty attribute name" : "empty attribute path segment", item));
  }
  return segments;
}

Builtin BuiltinOf(std::string_view name) {
  if (name == "id") return Builtin::kId;
  if (name == "type") return Builtin::kType;
  if (name == "dateCreated") return Builtin::kDateCreated;
  if (name == "dateModified") return Builtin::kDateModified;
  if (name == "dateExpires") return Builtin::kDateExpires;
  return Builtin::kNone;
}

// Fills attr / metadata / path / builtin from the path segments.
Status AssignTarget(Statement& st, std::vector<std::string> segs, std::string_view item) {
  st.attr = std::move(segs[0]);
  size_t rest = 1;
  if (st.is_mq) {
    if (segs.size() < 2) return Fail(Bad(st, "missing metadata name (attr.metadata)", item));
    st.metadata = std::move(segs[1]);
    rest = 2;
    if (segs.size() == 2 && st.metadata == "dateCreated") st.builtin = Builtin::kAttrCreated;
    if (segs.size() == 2 && st.metadata == "dateModified") st.builtin = Builtin::kAttrModified;
  } else if (segs.size() == 1) {
    st.builtin = BuiltinOf(st.attr);
  }
  st.path.assign(std::make_move_iterator(segs.begin() + static_cast<ptrdiff_t>(rest)),
                 std::make_move_iterator(segs.end()));
  return Ok();
}

// ---------------------------------------------------------------------------------------
// Right-hand side

std::optional<double> ParseNumber(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);  // strtod (Orion) accepts "+5"
  if (s.empty() || s[0] == '+') return std::nullopt;
  double d = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// Parses one value (not a list, not a range). On error returns the problem's description.
std::optional<std::string_view> ParseValue(std::string_view v, Literal& out) {
  if (v.front() == '\'') {
    if (v.size() < 2 || v.back() != '\'') return "unbalanced quote";
    v = v.substr(1, v.size() - 2);
    if (v.find('\'') != v.npos) return "quote inside a quoted string";
    out.kind = Kind::kString;
    out.text = std::string(v);
    out.time = ParseIso8601(v);
    return std::nullopt;
  }
  for (const char c : v) {
    if (c == '\'') return "unbalanced quote";
    if (c == '<' || c == '>' || c == '=' || c == '"') return "invalid character in value";
  }
  if (auto n = ParseNumber(v)) {
    out.kind = Kind::kNumber;
    out.number = *n;
  } else if (v == "true" || v == "false") {
    out.kind = Kind::kBool;
    out.boolean = v == "true";
  } else if (v == "null") {
    out.kind = Kind::kNull;
  } else {
    out.kind = Kind::kString;
    out.text = std::string(v);
    out.time = ParseIso8601(v);
  }
  return std::nullopt;
}

Status ParseRange(Statement& st, std::string_view rhs, size_t dots, std::string_view item) {
  if (st.op != Op::kEq && st.op != Op::kNe) {
    return Fail(Bad(st, "ranges are only valid with == and !=", item));
  }
  const std::string_view ends[2] = {Trim(rhs.substr(0, dots)), Trim(rhs.substr(dots + 2))};
  st.is_range = true;
  st.values.resize(2);
  for (int i = 0; i < 2; ++i) {
    if (ends[i].empty()) return Fail(Bad(st, "empty item in range", item));
    if (FindOutsideQuotes(ends[i], ",") != std::string_view::npos ||
        FindOutsideQuotes(ends[i], "..") != std::string_view::npos) {
      return Fail(Bad(st, "a range must have exactly two single values", item));
    }
    if (auto err = ParseValue(ends[i], st.values[i])) return Fail(Bad(st, *err, item));
    const Kind k = st.values[i].kind;
    if (k != Kind::kNumber && k != Kind::kString) {
      return Fail(Bad(st, "invalid range value (numbers, strings or dates only)", item));
    }
  }
  if (st.values[0].kind != st.values[1].kind) {
    return Fail(Bad(st, "invalid range: types mixed", item));
  }
  return Ok();
}

Status ParseList(Statement& st, std::string_view rhs, std::string_view item) {
  if (st.op != Op::kEq && st.op != Op::kNe) {
    return Fail(Bad(st, "lists are only valid with == and !=", item));
  }
  const auto parts = SplitOutsideQuotes(rhs, ',');
  if (!parts) return Fail(Bad(st, "unbalanced quote", item));
  if (parts->size() > kMaxListItems) {
    return Fail(Bad(st, "more than " + std::to_string(kMaxListItems) + " items in list", item));
  }
  st.values.resize(parts->size());
  for (size_t i = 0; i < parts->size(); ++i) {
    const std::string_view v = Trim((*parts)[i]);
    if (v.empty()) return Fail(Bad(st, "empty item in list", item));
    if (auto err = ParseValue(v, st.values[i])) return Fail(Bad(st, *err, item));
  }
  return Ok();
}

// Rejects patterns whose counted repetitions multiply into a huge automaton, e.g.
// `(a{1000}){1000}`: a cheap guard against a request that costs seconds to compile.
bool RegexTooComplex(std::string_view re) {
  constexpr uint64_t kMaxRepeatProduct = 10000;
  uint64_t product = 1;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] != '{') continue;
    uint64_t bound = 0;  // the largest number inside {n}, {n,} or {n,m}
    uint64_t current = 0;
    for (size_t j = i + 1; j < re.size() && re[j] != '}'; ++j) {
      if (re[j] >= '0' && re[j] <= '9') {
        current = std::min<uint64_t>(current * 10 + static_cast<uint64_t>(re[j] - '0'), 1u << 20);
        bound = std::max(bound, current);
      } else if (re[j] == ',') {
        current = 0;
      } else {
        break;  // not a counted repetition
      }
    }
    product *= std::max<uint64_t>(bound, 1);
    if (product > kMaxRepeatProduct) return true;
  }
  return false;
}

Status ParsePattern(Statement& st, std::string_view rhs, std::string_view item) {
  if (rhs.size() >= 2 && rhs.front() == '\'' && rhs.back() == '\'') {
    rhs = rhs.substr(1, rhs.size() - 2);
  }
  if (RegexTooComplex(rhs)) return Fail(Bad(st, "regular expression too complex", item));
  // A NUL-terminated copy: Boost.Regex 1.81's set parser may read one character past the
  // end of the range it is given (found by fuzz/fuzz_ngsi_query).
  const std::string pattern(rhs);
  st.regex.emplace(pattern, boost::regex::ECMAScript | boost::regex::no_except);
  if (st.regex->status() != 0) return Fail(Bad(st, "invalid regular expression", item));
  return Ok();
}

Status ParseRhs(Statement& st, std::string_view rhs, std::string_view item) {
  if (st.op == Op::kMatch) return ParsePattern(st, rhs, item);
  if (const size_t dots = FindOutsideQuotes(rhs, ".."); dots != std::string_view::npos) {
    return ParseRange(st, rhs, dots, item);
  }
  if (FindOutsideQuotes(rhs, ",") != std::string_view::npos) return ParseList(st, rhs, item);
  st.values.resize(1);
  if (auto err = ParseValue(rhs, st.values[0])) return Fail(Bad(st, *err, item));
  const Kind k = st.values[0].kind;
  if (IsOrdering(st.op) && (k == Kind::kBool || k == Kind::kNull)) {
    return Fail(Bad(st,
                    std::string(k == Kind::kBool ? "boolean" : "null") +
                        " values are not supported for operator " + OpName(st.op),
                    item));
  }
  return Ok();
}

Result<Statement> ParseStatement(std::string_view item, bool is_mq) {
  Statement st;
  st.is_mq = is_mq;
  std::string_view lhs;
  std::string_view rhs;
  if (item.front() == '!' && (item.size() < 2 || item[1] != '=')) {
    st.op = Op::kNotExists;
    lhs = Trim(item.substr(1));
    if (FindOperator(lhs).pos != std::string_view::npos) {
      return Fail(Bad(st, "'!' only negates an existence check", item));
    }
  } else if (const OpMatch m = FindOperator(item); m.pos != std::string_view::npos) {
    st.op = m.op;
    lhs = Trim(item.substr(0, m.pos));
    rhs = Trim(item.substr(m.pos + m.len));
    if (lhs.empty()) return Fail(Bad(st, "empty left-hand-side", item));
    if (rhs.empty()) return Fail(Bad(st, "empty right-hand-side", item));
  } else {
    lhs = item;
  }
  if (lhs.empty()) return Fail(Bad(st, "empty attribute name", item));
  auto segs = ParsePath(st, lhs, item);
  if (!segs) return Fail(std::move(segs.error()));
  if (auto s = AssignTarget(st, std::move(*segs), item); !s) return Fail(std::move(s.error()));
  if (st.op != Op::kExists && st.op != Op::kNotExists) {
    if (auto s = ParseRhs(st, rhs, item); !s) return Fail(std::move(s.error()));
  }
  return st;
}

Result<std::vector<Statement>> ParseStatements(std::string_view text, bool is_mq) {
  const std::string param = is_mq ? "mq" : "q";
  if (text.size() > kMaxQueryLength) {
    return Fail(Error::BadRequest("Invalid query: " + param + " is longer than " +
                                  std::to_string(kMaxQueryLength) + " characters"));
  }
  text = Trim(text);
  if (!text.empty() && text.back() == ';') text.remove_suffix(1);  // Orion tolerates one
  if (Trim(text).empty()) return Fail(Error::BadRequest("Invalid query: empty " + param));
  const auto items = SplitOutsideQuotes(text, ';');
  if (!items) return Fail(Error::BadRequest("Invalid query: unbalanced quote in " + param));
  if (items->size() > kMaxStatements) {
    return Fail(Error::BadRequest("Invalid query: more than " + std::to_string(kMaxStatements) +
                                  " statements in " + param));
  }
  std::vector<Statement> out;
  out.reserve(items->size());
  for (const std::string_view raw : *items) {
    const std::string_view item = Trim(raw);
    if (item.empty()) return Fail(Error::BadRequest("Invalid query: empty " + param + " item"));
    auto st = ParseStatement(item, is_mq);
    if (!st) return Fail(std::move(st.error()));
    out.push_back(std::move(*st));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Matching

// One comparable value of an entity, borrowed from it.
struct Scalar {
  Kind kind = Kind::kOther;
  double number = 0;
  bool boolean = false;
  bool has_text = false;  // strings, and DateTime values written as text
  std::string_view text;
  TimeMs time = 0;
};

Scalar TimeScalar(TimeMs t) {
  Scalar s;
  s.kind = Kind::kTime;
  s.time = t;
  return s;
}

Scalar TextScalar(std::string_view text) {
  Scalar s;
  s.kind = Kind::kString;
  s.has_text = true;
  s.text = text;
  return s;
}

Scalar NumberScalar(double d) {
  Scalar s;
  s.kind = Kind::kNumber;
  s.number = d;
  return s;
}

Scalar FromJson(const bj::value& v, bool date_typed) {
  switch (v.kind()) {
    case bj::kind::int64:
      return NumberScalar(static_cast<double>(v.get_int64()));
    case bj::kind::uint64:
      return NumberScalar(static_cast<double>(v.get_uint64()));
    case bj::kind::double_:
      return NumberScalar(v.get_double());
    case bj::kind::string: {
      const bj::string& str = v.get_string();
      Scalar s = TextScalar(std::string_view(str.data(), str.size()));
      if (date_typed) {
        if (auto t = ParseIso8601(s.text)) {
          s.kind = Kind::kTime;
          s.time = *t;
        }
      }
      return s;
    }
    case bj::kind::bool_: {
      Scalar s;
      s.kind = Kind::kBool;
      s.boolean = v.get_bool();
      return s;
    }
    case bj::kind::null: {
      Scalar s;
      s.kind = Kind::kNull;
      return s;
    }
    default:
      return Scalar{};  // objects and arrays only match existence checks
  }
}

// The statement's target on one entity: a JSON value or a built-in scalar.
struct Target {
  bool exists = false;
  const bj::value* json = nullptr;  // null for built-ins
  bool date_typed = false;
  Scalar scalar;  // built-ins
};

const bj::value* Walk(const bj::value* v, const std::vector<std::string>& path) {
  for (const std::string& seg : path) {
    if (const bj::object* o = v->if_object()) {
      v = o->if_contains(seg);
    } else if (const bj::array* a = v->if_array()) {
      size_t index = 0;
      const auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
      if (ec != std::errc() || end != seg.data() + seg.size()) return nullptr;
      v = index < a->size() ? &(*a)[index] : nullptr;
    } else {
      return nullptr;
    }
    if (v == nullptr) return nullptr;
  }
  return v;
}

Target BuiltinTarget(const Statement& st, const Entity& e) {
  Target t;
  t.exists = true;
  switch (st.builtin) {
    case Builtin::kId:
      t.scalar = TextScalar(e.id);
      break;
    case Builtin::kType:
      t.scalar = TextScalar(e.type);
      break;
    case Builtin::kDateCreated:
      t.scalar = TimeScalar(e.created);
      break;
    case Builtin::kDateModified:
      t.scalar = TimeScalar(e.modified);
      break;
    case Builtin::kDateExpires:
      t.exists = e.expires.has_value();
      t.scalar = TimeScalar(e.expires.value_or(0));
      break;
    default:
      t.exists = false;
      break;
  }
  return t;
}

Target Resolve(const Statement& st, const Entity& e) {
  if (!st.is_mq && st.builtin != Builtin::kNone) return BuiltinTarget(st, e);
  Target t;
  const Attribute* attr = e.Find(st.attr);
  if (attr == nullptr) return t;
  const bj::value* value = &attr->value;
  std::string_view type = attr->type;
  if (st.is_mq) {
    if (st.builtin != Builtin::kNone) {
      t.exists = true;
      t.scalar = TimeScalar(st.builtin == Builtin::kAttrCreated ? attr->created : attr->modified);
      return t;
    }
    const Metadata* md = FindNamed(attr->metadata, st.metadata);
    if (md == nullptr) return t;
    value = &md->value;
    type = md->type;
  }
  t.json = Walk(value, st.path);
  t.exists = t.json != nullptr;
  t.date_typed = st.path.empty() && type == kTypeDateTime;
  return t;
}

bool Equal(const Literal& lit, const Scalar& s) {
  switch (s.kind) {
    case Kind::kNumber:
      return lit.kind == Kind::kNumber && lit.number == s.number;
    case Kind::kString:
      return lit.kind == Kind::kString && lit.text == s.text;
    case Kind::kBool:
      return lit.kind == Kind::kBool && lit.boolean == s.boolean;
    case Kind::kNull:
      return lit.kind == Kind::kNull;
    case Kind::kTime:
      return lit.time.has_value() && *lit.time == s.time;
    default:
      return false;
  }
}

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// The order of the target relative to the literal; nullopt when the kinds differ.
std::optional<int> Order(const Scalar& s, const Literal& lit) {
  if (s.kind == Kind::kNumber && lit.kind == Kind::kNumber) return Sign(s.number, lit.number);
  if (s.kind == Kind::kString && lit.kind == Kind::kString) {
    return Sign(s.text, std::string_view(lit.text));
  }
  if (s.kind == Kind::kTime && lit.time) return Sign(s.time, *lit.time);
  return std::nullopt;
}

// The positive condition of the statement on one scalar; for == and != it is "equals".
bool Positive(const Statement& st, const Scalar& s) {
  switch (st.op) {
    case Op::kEq:
    case Op::kNe: {
      if (st.is_range) {
        const auto lo = Order(s, st.values[0]);
        const auto hi = Order(s, st.values[1]);
        return lo && hi && *lo >= 0 && *hi <= 0;
      }
      for (const Literal& lit : st.values) {
        if (Equal(lit, s)) return true;
      }
      return false;
    }
    case Op::kMatch:
      return s.has_text && SearchPattern(*st.regex, s.text);
    default:
      break;
  }
  const auto o = Order(s, st.values[0]);
  if (!o) return false;
  switch (st.op) {
    case Op::kGt:
      return *o > 0;
    case Op::kGe:
      return *o >= 0;
    case Op::kLt:
      return *o < 0;
    case Op::kLe:
      return *o <= 0;
    default:
      return false;
  }
}

// Positive on the target, or on any element when the target is an array.
bool PositiveOnTarget(const Statement& st, const Target& t) {
  if (t.json == nullptr) return Positive(st, t.scalar);
  if (const bj::array* a = t.json->if_array()) {
    for (const bj::value& el : *a) {
      if (Positive(st, FromJson(el, false))) return true;
    }
    return false;
  }
  return Positive(st, FromJson(*t.json, t.date_typed));
}

bool Evaluate(const Statement& st, const Entity& e) {
  const Target t = Resolve(st, e);
  switch (st.op) {
    case Op::kExists:
      return t.exists;
    case Op::kNotExists:
      return !t.exists;
    case Op::kNe:
      return t.exists && !PositiveOnTarget(st, t);
    default:
      return t.exists && PositiveOnTarget(st, t);
  }
}

}  // namespace

bool IsBuiltinQueryName(std::string_view name) {
  return BuiltinOf(name) != Builtin::kNone;
}

Filter::Filter() = default;
Filter::~Filter() = default;
Filter::Filter(const Filter&) = default;
Filter::Filter(Filter&&) noexcept = default;
Filter& Filter::operator=(const Filter&) = default;
Filter& Filter::operator=(Filter&&) noexcept = default;

Result<Filter> Filter::ParseQ(std::string_view q) {
  auto statements = ParseStatements(q, false);
  if (!statements) return Fail(std::move(statements.error()));
  Filter f;
  f.statements_ = std::move(*statements);
  return f;
}

Result<Filter> Filter::ParseMq(std::string_view mq) {
  auto statements = ParseStatements(mq, true);
  if (!statements) return Fail(std::move(statements.error()));
  Filter f;
  f.statements_ = std::move(*statements);
  return f;
}

void Filter::AndWith(const Filter& other) {
  statements_.insert(statements_.end(), other.statements_.begin(), other.statements_.end());
}

bool Filter::Matches(const Entity& e) const {
  for (const Statement& st : statements_) {
    if (!Evaluate(st, e)) return false;
  }
  return true;
}

bool Filter::Empty() const {
  return statements_.empty();
}

std::vector<std::string> Filter::Attributes() const {
  std::vector<std::string> names;
  for (const Statement& st : statements_) {
    bool seen = false;
    for (const std::string& n : names) seen = seen || n == st.attr;
    if (!seen) names.push_back(st.attr);
  }
  return names;
}

}  // namespace zc::context
