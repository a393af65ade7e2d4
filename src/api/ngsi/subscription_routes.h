// NGSI-v2 subscriptions under /v2/subscriptions: list, create, read, update, delete, mapped
// onto context::SubscriptionManager. Routes need "subscriptions.read" (GET) or
// "subscriptions.write" (POST, PATCH, DELETE).
#pragma once

#include "context/subscription_manager.h"
#include "http/router.h"

namespace zc::api::ngsi {

inline constexpr const char* kPermSubscriptionsRead = "subscriptions.read";
inline constexpr const char* kPermSubscriptionsWrite = "subscriptions.write";

// GET/POST /v2/subscriptions, GET/PATCH/DELETE /v2/subscriptions/{subscriptionId}.
// `manager` must outlive the router.
void RegisterSubscriptionRoutes(http::Router& router, context::SubscriptionManager& manager);

}  // namespace zc::api::ngsi
