// libFuzzer target for the NGSI-v2 request-body mapping (context/ngsi_format.h).
//
// The input is a JSON document, parsed with the server's own limits (json::Parse), then
// mapped as every body kind the API accepts: an entity (POST /v2/entities, normalized and
// keyValues), an attribute set (/attrs, normalized and keyValues) and a single attribute
// (PUT /attrs/{name}). Whatever the parsers accept must survive a round trip through the
// renderer, because clients GET an entity and send it back:
//   parse(body) = e1  ->  render(e1) = r1  ->  parse(r1) = e2  ->  render(e2) = r2
// requires that the second parse succeeds and that r1 == r2 (rendering is a fixed point
// after one normalization; the text is compared, so 21 vs 21.0 cannot differ; doubles may
// differ in their last bits, see SameJson). A keyValues
// entity without an expiration must also survive keyValues rendering and re-parsing.
// What parses must also be stored and loaded back unchanged (context/entity_codec.h: the
// entity document read at start, and an attribute's metadata as its history row keeps it).
// Every update operator of a body ({"$inc": ...}, context/update_operators.h) is also
// evaluated against no value and against each value of the body, for sanitizer reports.
// A broken property is reported with abort() and the offending texts on stderr.
//
// The re-parse allows deeper nesting than a request body (kRenderDepth): rendering wraps a
// keyValues value in {"value": ...} and metadata adds three levels, so a body at the depth
// limit legitimately renders deeper than json::Parse's default accepts.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/json.h"
#include "context/entity_codec.h"
#include "context/ngsi_format.h"
#include "context/update_operators.h"

namespace {

using zc::context::Attribute;
using zc::context::DumpJson;
using zc::context::Entity;
using zc::context::ParsedAttributes;
using zc::context::RenderOptions;
using zc::context::Representation;

constexpr size_t kRenderDepth = 64;

// Structural equality where numbers may differ in the last bits: Boost.JSON 1.81 does not
// parse every double correctly rounded, so "1.2345678901234567e+36" (the shortest form of
// a double it parsed) can parse to the next double. That drift is Boost's, not ours.
bool SameJson(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.to_number<double>();
    const double y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 4 * DBL_EPSILON * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), SameJson);
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    return x.size() == y.size() &&
           std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
             return p.key() == q.key() && SameJson(p.value(), q.value());
           });
  }
  return a == b;
}

// r1 == r2 as texts, or as JSON with numbers compared as SameJson does.
bool SameRendering(const std::string& r1, const std::string& r2) {
  if (r1 == r2) return true;
  auto a = zc::json::Parse(r1, {.max_depth = kRenderDepth});
  auto b = zc::json::Parse(r2, {.max_depth = kRenderDepth});
  return a && b && SameJson(*a, *b);
}

[[noreturn]] void Fail(const char* what, std::string_view first, std::string_view second) {
  std::fprintf(stderr, "fuzz_ngsi_json: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
               second.data());
  std::abort();
}

boost::json::value Reparse(const std::string& text, std::string_view origin) {
  auto v = zc::json::Parse(text, {.max_depth = kRenderDepth});
  if (!v) Fail("rendered JSON does not parse", origin, text);
  return *v;
}

std::string Render(const Entity& e, Representation representation) {
  RenderOptions options;
  options.representation = representation;
  return DumpJson(zc::context::RenderEntity(e, options));
}

// Renders the values and unique representations and a filtered view too; they have no
// inverse, so this only looks for crashes and sanitizer reports.
void RenderOtherViews(const Entity& e) {
  RenderOptions options;
  for (auto r : {Representation::kValues, Representation::kUnique}) {
    options.representation = r;
    (void)DumpJson(zc::context::RenderEntity(e, options));
  }
  options.representation = Representation::kNormalized;
  options.attrs = {"dateModified", "*", "dateExpires", "servicePath"};
  options.metadata = {"dateCreated", "*"};
  if (!e.attrs.empty()) options.attrs.push_back(e.attrs.front().first);
  (void)DumpJson(zc::context::RenderEntity(e, options));
  options.except_attrs = {"dateExpires"};
  (void)DumpJson(zc::context::RenderEntity(e, options));
}

void ApplyOperators(const Entity& e) {
  for (const auto& [name, op] : e.attrs) {
    if (!zc::context::IsUpdateOperator(op.value)) continue;
    for (bool date_time : {false, true}) {
      (void)zc::context::ApplyUpdateOperator(nullptr, op.value, date_time);
      for (const auto& [other, attr] : e.attrs) {
        (void)zc::context::ApplyUpdateOperator(&attr.value, op.value, date_time);
      }
    }
  }
}

// What is accepted is stored and loaded back unchanged: the entity document (EncodeEntity,
// read at start) and each attribute's metadata as a history row keeps it. Numbers are
// compared as SameJson does (Boost's last-bit drift, see above).
void StorageRoundTrip(Entity e, std::string_view origin) {
  e.service_path = "/district/gaoming";
  e.created = 1700000000000;
  e.modified = 1700000000001;
  for (auto& [name, attr] : e.attrs) {
    attr.created = e.created;
    attr.modified = e.modified;
  }
  const std::string doc = zc::context::EncodeEntity(e);
  auto loaded = zc::context::DecodeEntity(doc);
  if (!loaded) {
    Fail(("the stored entity does not load: " + loaded.error().message).c_str(), origin, doc);
  }
  const std::string again = zc::context::EncodeEntity(*loaded);
  if (!SameRendering(doc, again)) Fail("loading changed the stored entity", doc, again);
  // The loaded entity as NGSI, with every built-in: a field the document left out shows here.
  RenderOptions all;
  all.attrs = {"*", "dateCreated", "dateModified", "dateExpires"};
  all.metadata = {"*", "dateCreated", "dateModified"};
  const std::string before = DumpJson(zc::context::RenderEntity(e, all));
  const std::string after = DumpJson(zc::context::RenderEntity(*loaded, all));
  if (!SameRendering(before, after) || loaded->service_path != e.service_path) {
    Fail("the loaded entity is not the stored one", before, after);
  }
  for (const auto& [name, attr] : e.attrs) {
    const std::string md = zc::context::EncodeMetadataJson(attr.metadata);
    auto back = zc::context::DecodeMetadataJson(md);
    if (!back) Fail(("stored metadata does not load: " + back.error().message).c_str(), origin, md);
    const std::string md2 = zc::context::EncodeMetadataJson(*back);
    if (md != md2 && !SameRendering(md, md2)) Fail("loading changed the stored metadata", md, md2);
  }
}

void EntityRoundTrip(const boost::json::value& body, bool key_values) {
  auto e1 = zc::context::ParseEntity(body, key_values);
  if (!e1) return;
  StorageRoundTrip(*e1, DumpJson(body));
  ApplyOperators(*e1);
  RenderOtherViews(*e1);
  const std::string r1 = Render(*e1, Representation::kNormalized);
  auto e2 = zc::context::ParseEntity(Reparse(r1, DumpJson(body)), /*key_values=*/false);
  if (!e2) Fail(("normalized rendering is rejected: " + e2.error().message).c_str(), r1, "");
  const std::string r2 = Render(*e2, Representation::kNormalized);
  if (!SameRendering(r1, r2)) Fail("entity round trip changed the rendering", r1, r2);
  if (e1->expires != e2->expires) Fail("entity round trip changed dateExpires", r1, r2);

  // keyValues in, keyValues out: types are inferred again, so the rendering must be stable.
  if (!key_values || e1->expires) return;
  const std::string k1 = Render(*e1, Representation::kKeyValues);
  auto e3 = zc::context::ParseEntity(Reparse(k1, DumpJson(body)), /*key_values=*/true);
  if (!e3) Fail(("keyValues rendering is rejected: " + e3.error().message).c_str(), k1, "");
  const std::string k2 = Render(*e3, Representation::kKeyValues);
  if (!SameRendering(k1, k2)) Fail("keyValues round trip changed the rendering", k1, k2);
}

// An attribute set renders as an entity body without "id" and "type".
std::string RenderAttributes(const ParsedAttributes& parsed) {
  Entity e;
  e.id = "fuzz";
  e.type = "Fuzz";
  e.attrs = parsed.attrs;
  e.expires = parsed.expires;
  // Copied member by member: object::erase moves the last member into the hole.
  const auto rendered = zc::context::RenderEntity(e, RenderOptions{});
  boost::json::object attrs;
  for (const auto& kv : rendered.as_object()) {
    if (kv.key() != "id" && kv.key() != "type") attrs.emplace(kv.key(), kv.value());
  }
  return DumpJson(attrs);
}

void AttributesRoundTrip(const boost::json::value& body, bool key_values) {
  auto a1 = zc::context::ParseAttributes(body, key_values);
  if (!a1) return;
  // {"dateExpires": null} alone renders as {}, which is (rightly) an empty payload.
  if (a1->attrs.empty() && !a1->expires) return;
  const std::string r1 = RenderAttributes(*a1);
  auto a2 = zc::context::ParseAttributes(Reparse(r1, DumpJson(body)), /*key_values=*/false);
  if (!a2) Fail(("attributes rendering is rejected: " + a2.error().message).c_str(), r1, "");
  const std::string r2 = RenderAttributes(*a2);
  if (!SameRendering(r1, r2)) Fail("attributes round trip changed the rendering", r1, r2);
  if (a1->expires != a2->expires) Fail("attributes round trip changed dateExpires", r1, r2);
}

void AttributeRoundTrip(const boost::json::value& body) {
  auto a1 = zc::context::ParseAttribute(body);
  if (!a1) return;
  (void)zc::context::DateExpiresOf(*a1);
  const std::string r1 = DumpJson(zc::context::RenderAttribute(*a1, RenderOptions{}));
  auto a2 = zc::context::ParseAttribute(Reparse(r1, DumpJson(body)));
  if (!a2) Fail(("attribute rendering is rejected: " + a2.error().message).c_str(), r1, "");
  const std::string r2 = DumpJson(zc::context::RenderAttribute(*a2, RenderOptions{}));
  if (!SameRendering(r1, r2)) Fail("attribute round trip changed the rendering", r1, r2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto body = zc::json::Parse(text);
  if (!body) return 0;
  for (bool key_values : {false, true}) {
    EntityRoundTrip(*body, key_values);
    AttributesRoundTrip(*body, key_values);
  }
  AttributeRoundTrip(*body);
  return 0;
}
