// The one way this module runs a regular expression over entity data: a search that treats
// Boost's complexity limit as "no match". Boost.Regex throws (regex_error) rather than run
// a catastrophic backtracking pattern, such as `(a+)+$` over a long run of `a` ending in
// something else, for ever. Patterns come from clients (idPattern, typePattern, `~=` in q
// and mq) and are matched on request threads and, for subscriptions, on the writer
// thread, where an exception would end the process.
#pragma once

#include <boost/regex.hpp>

#include <string_view>

namespace zc::context {

inline bool SearchPattern(const boost::regex& re, std::string_view text) noexcept {
  try {
    return boost::regex_search(text.begin(), text.end(), re);
  } catch (const std::exception&) {  // too complex for this input (or out of memory)
    return false;
  }
}

}  // namespace zc::context
