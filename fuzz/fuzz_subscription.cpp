// libFuzzer target for NGSI-v2 subscriptions (context/subscription.h).
//
// The input is a JSON document, parsed with the server's own limits (json::Parse), and
// used as every subscription body the API accepts: a creation (POST /v2/subscriptions) and
// a modification (PATCH /v2/subscriptions/{id}) of a fixed subscription. Whatever is
// accepted is a subscription the server keeps, so three properties must hold:
//   - GET shows what POST accepts: RenderSpec(spec) parses again as a creation and renders
//     the same (a fixed point), so a client can read a subscription and send it back;
//   - the stored document reloads: ParseStoredDocument(StoredDocument(sub)) succeeds and
//     stores the same again. A document that fails here is a subscription that a restart
//     drops (SubscriptionManager::Load logs it as unreadable);
//   - the reloaded subscription notifies as the accepted one did: matched against a
//     create, an update and a delete of a fixed entity, it triggers on the same ones and
//     builds the same notifications (method, URL, headers, body, timeout). This catches a
//     field that RenderSpec leaves out, which the fixed points above cannot see.
// Every accepted subscription is also rendered for GET, for sanitizer reports. A broken
// property is reported with abort() and the texts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/json.h"
#include "context/ngsi_format.h"
#include "context/scope.h"
#include "context/subscription.h"

namespace {

namespace ctx = zc::context;

[[noreturn]] void Fail(const char* what, std::string_view first, std::string_view second) {
  std::fprintf(stderr, "fuzz_subscription: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
               second.data());
  std::abort();
}

// A subscription with every kind of field, modified by the PATCH bodies.
const ctx::SubscriptionSpec& PatchBase() {
  static const ctx::SubscriptionSpec base = [] {
    auto body = zc::json::Parse(R"({"description":"base","subject":{"entities":[
      {"idPattern":".*","type":"Room"}],"condition":{"attrs":["temperature"],
      "expression":{"q":"temperature>30","georel":"near;maxDistance:500","geometry":"point",
      "coords":"23.0,113.1"}}},"notification":{"httpCustom":{"url":"http://rx:9/n",
      "headers":{"X-A":"${id}"},"qs":{"t":"${temperature}"},"method":"PUT",
      "payload":"${id} is ${temperature}"},"attrs":["temperature"],"metadata":["unit"],
      "attrsFormat":"keyValues"},"expires":"2040-01-01T00:00:00.000Z","throttling":5})");
    if (!body) std::abort();
    auto spec = ctx::ParseSubscription(*body);
    if (!spec) Fail("the PATCH base is rejected", spec.error().message, "");
    return *spec;
  }();
  return base;
}

ctx::EntityPtr Room(double temperature) {
  auto body = zc::json::Parse(
      R"({"id":"Room1","type":"Room","temperature":{"type":"Number","value":)" +
      std::to_string(temperature) +
      R"(,"metadata":{"unit":{"type":"Text","value":"C"}}},"location":{"type":"geo:point",)"
      R"("value":"23.0,113.1"},"name":{"type":"Text","value":"room one"}})");
  if (!body) std::abort();
  auto entity = ctx::ParseEntity(*body, /*key_values=*/false);
  if (!entity) Fail("the fixed entity is rejected", entity.error().message, "");
  entity->service_path = "/city/a";
  return std::make_shared<const ctx::Entity>(std::move(*entity));
}

// What `sub` does with a create, an update and a delete of a fixed entity: for each,
// whether it triggers and the notification it builds, as one text.
std::string Notifications(const ctx::Subscription& sub, const ctx::PathScope& scope) {
  static const ctx::EntityPtr cold = Room(20);
  static const ctx::EntityPtr hot = Room(35.5);
  ctx::EntityChange change;
  change.tenant = "city";
  change.correlator = "fuzz";
  change.time = 1700000000000;
  change.updated_attrs = {"temperature"};
  change.changed_attrs = {"temperature"};
  std::string out;
  for (const auto kind :
       {ctx::ChangeKind::kCreate, ctx::ChangeKind::kUpdate, ctx::ChangeKind::kDelete}) {
    change.kind = kind;
    change.before = kind == ctx::ChangeKind::kCreate ? nullptr : cold;
    change.after = kind == ctx::ChangeKind::kDelete ? nullptr : hot;
    if (!ctx::Triggers(sub, scope, change)) {
      out += "-\n";
      continue;
    }
    const auto n = ctx::BuildNotification(sub, change, 1, std::chrono::milliseconds(5000));
    out += fmt::format("{} {} {} {}\n", n.method, n.url, n.receiver, n.timeout.count());
    for (const auto& [name, value] : n.headers) out += fmt::format("{}: {}\n", name, value);
    out += n.body;
    out += '\n';
  }
  return out;
}

std::string Rendered(const ctx::SubscriptionSpec& spec) {
  return zc::json::Dump(ctx::RenderSpec(spec));
}

// GET shows what POST accepts, and the stored document reloads to the same subscription.
void RoundTrips(ctx::SubscriptionSpec spec, std::string_view origin) {
  const std::string r1 = Rendered(spec);
  auto again = zc::json::Parse(r1);
  if (!again) Fail("RenderSpec is not JSON that parses", origin, r1);
  auto spec2 = ctx::ParseSubscription(*again);
  if (!spec2) Fail(("RenderSpec is rejected: " + spec2.error().message).c_str(), origin, r1);
  const std::string r2 = Rendered(*spec2);
  if (r1 != r2) Fail("subscription round trip changed the rendering", r1, r2);

  ctx::Subscription sub;
  sub.id = "5f1d3c2b1a0987654321abcd";
  sub.service_path = "/city/#";
  sub.spec = std::make_shared<const ctx::SubscriptionSpec>(std::move(spec));
  sub.counters.times_sent = 3;
  sub.counters.last_notification = 1700000000000;
  sub.counters.last_failure = 1700000000000;
  sub.counters.last_failure_reason = "no response from \"rx\" within 5000 ms";
  sub.counters.fails_counter = 2;
  const std::string doc = ctx::StoredDocument(sub);
  auto loaded = ctx::ParseStoredDocument(sub.id, doc);
  if (!loaded) {
    Fail(("the stored document does not reload: " + loaded.error().message).c_str(), origin, doc);
  }
  const std::string doc2 = ctx::StoredDocument(*loaded);
  if (doc != doc2) Fail("reloading changed the stored document", doc, doc2);

  auto scope = ctx::PathScope::Parse(sub.service_path);
  if (!scope) std::abort();
  (void)ctx::RenderSubscription(sub, 1700000000000);
  (void)ctx::RenderSubscription(*loaded, 4102444800001);  // past any expiry of the base
  const std::string n1 = Notifications(sub, *scope);
  const std::string n2 = Notifications(*loaded, *scope);
  if (n1 != n2) Fail("the reloaded subscription notifies otherwise", n1, n2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = zc::json::Parse(text);
  if (!body) return 0;
  if (auto created = ctx::ParseSubscription(*body)) RoundTrips(std::move(*created), text);
  if (auto patched = ctx::PatchSubscription(PatchBase(), *body)) {
    RoundTrips(std::move(*patched), text);
  }
  return 0;
}
