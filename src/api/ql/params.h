// Parsing and validation of QuantumLeap query parameters and FIWARE headers into one
// request description, independent of HTTP so that it can be tested on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "context/store.h"
#include "http/request.h"

namespace zc::api::ql {

// QuantumLeap's default and maximum page size.
inline constexpr size_t kMaxLimit = 10000;

struct QlRequest {
  context::HistoryQuery query;  // tenant, scopes, types, time range, lastN, limit, offset
  std::optional<context::AggrMethod> aggr_method;
  context::AggrPeriod aggr_period = context::AggrPeriod::kNone;
  std::vector<std::string> ids;    // `id` (types and attrs endpoints), in the client's order
  std::vector<std::string> attrs;  // `attrs` (entity, types and attrs endpoints)
  std::string from_text, to_text;  // fromDate/toDate as given (aggregate index of types)

  // {fromDate, toDate} as given ("" for one not given): a whole-range aggregate's index.
  std::vector<std::string> DateRange() const { return {from_text, to_text}; }

  // An aggregation over the whole range: one value per attribute, no period.
  bool WholeRange() const {
    return aggr_method.has_value() && aggr_period == context::AggrPeriod::kNone;
  }
};

// Which of the caller's grants narrow the request's service paths.
enum class Access { kRead, kWrite };

// Reads type, id, attrs, fromDate, toDate, lastN, limit, offset, aggrMethod, aggrPeriod
// and the Fiware-Service/Fiware-ServicePath headers. Errors are BadRequest with a message
// naming the parameter, Forbidden when the caller's grants (for `access`) cover none of
// the service paths.
Result<QlRequest> ParseRequest(const http::RequestContext& ctx, Access access = Access::kRead);

// Splits "a,b" into {"a","b"} (empty items dropped, blanks trimmed).
std::vector<std::string> SplitList(std::string_view text);

}  // namespace zc::api::ql
