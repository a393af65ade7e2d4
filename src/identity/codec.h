// JSON forms of the identity model. `kStored` includes the secret digests and counters
// (what the store keeps); `kPublic` is what the admin API shows (never a hash).
#pragma once

#include <boost/json.hpp>

#include <string_view>

#include "common/result.h"
#include "identity/model.h"

namespace zc::identity {

enum class View { kPublic, kStored };

boost::json::value ToJson(const TenantGrant& g);
boost::json::value ToJson(const Department& d);
boost::json::value ToJson(const User& u, View view);
boost::json::value ToJson(const ServiceAccount& a, View view);
boost::json::value ToJson(const TokenRecord& t, View view);

// Decoders check types and shapes; they are used for stored documents and request bodies
// alike (a field absent from the JSON keeps its default).
Result<TenantGrant> TenantGrantFromJson(const boost::json::value& v);
// The text form of a grant, "TENANT:PATH:r" or "TENANT:PATH:rw" (TENANT may be empty or
// "*"; PATH starts with '/'), used by the admin CLI and in OAuth scopes after "ngsi:".
// BadRequest when malformed.
Result<TenantGrant> ParseGrantSpec(std::string_view spec);
Result<std::vector<TenantGrant>> TenantGrantsFromJson(const boost::json::value& v);
Result<Department> DepartmentFromJson(const boost::json::value& v);
Result<User> UserFromJson(const boost::json::value& v);
Result<ServiceAccount> ServiceAccountFromJson(const boost::json::value& v);
Result<TokenRecord> TokenFromJson(const boost::json::value& v);

}  // namespace zc::identity
