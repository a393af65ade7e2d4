// Orion's update operators for attribute values: a request value such as {"$inc": 3}
// means "add 3 to the attribute's current value" and is evaluated against the latest state
// by the writer's evaluation, so concurrent counters do not lose increments
// (doc/manuals/orion-api.md, "Update operators for attribute values").
//
// Supported, with MongoDB's meaning as Orion passes them on: $inc, $mul, $min, $max, $push
// (with $each and $position), $addToSet (with $each), $pull, $pullAll, $set and $unset, and
// $set together with $unset. A value is an operator only when it is an object with exactly
// one of these keys (or exactly $set and $unset); any other object is an ordinary value.
//
// Where the attribute does not exist yet (creation, replace, append), Orion's reference
// values apply: 0 for $inc/$mul/$min/$max with a number, 1970-01-01T00:00:00.000Z for
// $min/$max of a DateTime, [] for $push/$addToSet, {} for $set; $pull, $pullAll and $unset
// then leave the attribute out. An operator that cannot apply ($inc of a text, $push to a
// number) is a BadRequest that changes nothing; Orion answers these with MongoDB's 500.
// $push and $addToSet stop at 10,000 items (PayloadTooLarge), so that a value cannot grow
// without bound one request at a time.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string_view>

#include "common/result.h"

namespace zc::context {

// True when `value` is an update operator as described above.
bool IsUpdateOperator(const boost::json::value& value);

// The attribute's new value: `op` (an operator, see IsUpdateOperator) applied to `current`
// (nullptr when the attribute does not exist). `date_time` says the attribute is of a date
// type (DateTime or ISO8601, IsDateTimeType), which selects the epoch as the reference of
// $min/$max. An empty optional means
// that the attribute is not to be written.
Result<std::optional<boost::json::value>> ApplyUpdateOperator(const boost::json::value* current,
                                                              const boost::json::value& op,
                                                              bool date_time);

}  // namespace zc::context
