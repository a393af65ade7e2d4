// The NGSI-v2 Simple Query Language: the `q` (attribute values) and `mq` (attribute metadata)
// filters of GET /v2/entities, POST /v2/op/query and subscriptions' condition expressions.
//
// A filter is parsed once into statements with pre-parsed values (numbers, times, compiled
// regular expressions) and then evaluated against many entities without allocating.
//
// Grammar (NGSI-v2 spec, "Simple Query Language", with Orion's parsing rules):
//   query     := statement (';' statement)* [';']        -- AND of all statements
//   statement := path | '!' path | path op rhs
//   op        := '==' | ':' (same as '==') | '!=' | '>' | '>=' | '<' | '<=' | '~='
//   path      := segment ('.' segment)*    -- a segment may be single-quoted: 'a.b'
//   rhs       := value | value ',' value ... (list) | value '..' value (range) | regex (~=)
//   value     := 'quoted text' | number | true | false | null | ISO 8601 date-time | text
// Whitespace around statements, operators, list items and range ends is ignored.
// A `;`, `,` or `..` inside single quotes is text. The `~=` right-hand side is a regular
// expression (ECMAScript syntax) taken verbatim; if it is wholly single-quoted the quotes
// are removed. Lists and ranges are only valid with `==` and `!=`; `>`, `>=`, `<`, `<=` take
// a number, a string or a date.
//
// Left-hand side. In `q` the first segment names an attribute and further segments walk
// into its JSON value (object keys; an all-digit segment also indexes an array). The
// one-segment names `id`, `type`, `dateCreated`, `dateModified` and `dateExpires` are the
// entity's built-ins (the last three compare as times). In `mq` the first segment is the
// attribute, the second a metadata name (`dateCreated`/`dateModified` are the attribute's
// built-in times) and further segments walk into the metadata value.
//
// Matching (Orion's behaviour where it is documented):
// - `path` / `!path`: the target exists / does not exist.
// - Every binary operator requires the target to exist: `!=` does NOT match entities that
//   lack the target (it is "exists and not ==").
// - Values only match values of the same kind: numbers with numbers, strings with strings
//   (byte-wise order), booleans and null by equality. An unquoted value that parses as a
//   number is a number, so `code==20` does not match the string "20" but `code=='20'` does.
// - Times: a target of type DateTime (attribute or metadata type, and the date built-ins)
//   compares as a time with any value whose text is an ISO 8601 date-time (unquoted dates
//   and quoted strings alike). An unquoted date compared with a non-DateTime string target
//   compares as text.
// - Array-valued targets match a positive condition (==, >, ~=, ...) when any element does;
//   `!=` matches when no element equals the value(s).
// - Objects match only existence checks.
// - `~=` searches (does not anchor) string targets.
//
// Limits (input limits, exceeding one is a BadRequest): see kMaxQueryLength and friends.
//
// Thread-safety: a Filter is immutable after parsing; Matches may run concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

inline constexpr size_t kMaxQueryLength = 4096;  // characters of one q or mq string
inline constexpr size_t kMaxStatements = 64;     // statements in one q or mq string
inline constexpr size_t kMaxListItems = 100;     // values in one comma-separated list

// True for the names that `q` resolves to entity built-ins instead of attributes.
bool IsBuiltinQueryName(std::string_view name);

class Filter {
 public:
  // An empty filter, matching every entity.
  Filter();
  ~Filter();
  Filter(const Filter&);
  Filter(Filter&&) noexcept;
  Filter& operator=(const Filter&);
  Filter& operator=(Filter&&) noexcept;

  // Parses the value of a `q` parameter (already URL-decoded).
  // Errors: BadRequest with a description of the first problem found (empty query or
  // statement, empty left- or right-hand side, unknown operator, unbalanced quote, bad
  // regex, list or range with an ordering operator, mixed range, over a limit).
  static Result<Filter> ParseQ(std::string_view q);
  // Parses the value of an `mq` parameter; the same grammar with `attr.metadata[.path]`
  // left-hand sides. Errors as ParseQ, plus a left-hand side without a metadata name.
  static Result<Filter> ParseMq(std::string_view mq);

  // Adds the statements of `other` (AND), e.g. to evaluate q and mq with one call.
  void AndWith(const Filter& other);

  // True when the entity satisfies every statement (always true when Empty()).
  bool Matches(const Entity& e) const;
  bool Empty() const;

  // The attribute names the statements refer to (first path segment), without duplicates,
  // in order of first appearance. Built-in names (IsBuiltinQueryName) are included as
  // written in `q`; callers interested in user attributes only skip them.
  std::vector<std::string> Attributes() const;

  struct Statement;  // defined in query.cpp

 private:
  std::vector<Statement> statements_;
};

}  // namespace zc::context
