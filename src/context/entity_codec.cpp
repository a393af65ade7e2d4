// Entity <-> storage JSON (layout in entity_codec.h). Decoding validates shape so that a
// corrupted row is reported at start-up instead of crashing later.
#include "context/entity_codec.h"

#include "common/json.h"

namespace zc::context {
namespace {

bj::array EncodeMetadata(const NamedList<Metadata>& metadata) {
  bj::array out;
  out.reserve(metadata.size());
  for (const auto& [name, md] : metadata) {
    out.push_back(bj::array{bj::string(name), bj::string(md.type), md.value});
  }
  return out;
}

bj::array EncodeAttribute(const std::string& name, const Attribute& a) {
  return bj::array{bj::string(name),           bj::string(a.type), a.value,
                   EncodeMetadata(a.metadata), a.created,          a.modified};
}

Result<NamedList<Metadata>> DecodeMetadata(const bj::value& v) {
  NamedList<Metadata> out;
  if (!v.is_array()) return Fail(Error::Internal("stored metadata is not an array"));
  for (const auto& item : v.get_array()) {
    const auto* arr = item.if_array();
    if (!arr || arr->size() != 3 || !(*arr)[0].is_string() || !(*arr)[1].is_string()) {
      return Fail(Error::Internal("stored metadata entry is malformed"));
    }
    out.emplace_back(std::string((*arr)[0].get_string()),
                     Metadata{std::string((*arr)[1].get_string()), (*arr)[2]});
  }
  return out;
}

Result<std::pair<std::string, Attribute>> DecodeAttribute(const bj::value& v) {
  const auto* arr = v.if_array();
  if (!arr || arr->size() != 6 || !(*arr)[0].is_string() || !(*arr)[1].is_string() ||
      !(*arr)[4].is_int64() || !(*arr)[5].is_int64()) {
    return Fail(Error::Internal("stored attribute is malformed"));
  }
  auto metadata = DecodeMetadata((*arr)[3]);
  if (!metadata) return Fail(metadata.error());
  Attribute a{std::string((*arr)[1].get_string()), (*arr)[2], std::move(*metadata),
              (*arr)[4].get_int64(), (*arr)[5].get_int64()};
  return std::pair{std::string((*arr)[0].get_string()), std::move(a)};
}

}  // namespace

std::string EncodeEntity(const Entity& e) {
  bj::object o;
  o["id"] = e.id;
  o["type"] = e.type;
  o["sp"] = e.service_path;
  o["c"] = e.created;
  o["m"] = e.modified;
  if (e.expires) o["x"] = *e.expires;
  bj::array attrs;
  attrs.reserve(e.attrs.size());
  for (const auto& [name, a] : e.attrs) attrs.push_back(EncodeAttribute(name, a));
  o["a"] = std::move(attrs);
  return bj::serialize(o);
}

Result<Entity> DecodeEntity(std::string_view text) {
  auto parsed = json::Parse(text, {.max_depth = 64});
  if (!parsed) return Fail(Error::Internal("stored entity is not JSON"));
  const auto* o = parsed->if_object();
  if (!o) return Fail(Error::Internal("stored entity is not an object"));
  const auto* id = o->if_contains("id");
  const auto* type = o->if_contains("type");
  const auto* sp = o->if_contains("sp");
  const auto* attrs = o->if_contains("a");
  if (!id || !id->is_string() || !type || !type->is_string() || !sp || !sp->is_string() || !attrs ||
      !attrs->is_array()) {
    return Fail(Error::Internal("stored entity lacks id, type, sp or a"));
  }
  Entity e;
  e.id = id->get_string();
  e.type = type->get_string();
  e.service_path = sp->get_string();
  if (const auto* c = o->if_contains("c"); c && c->is_int64()) e.created = c->get_int64();
  if (const auto* m = o->if_contains("m"); m && m->is_int64()) e.modified = m->get_int64();
  if (const auto* x = o->if_contains("x"); x && x->is_int64()) e.expires = x->get_int64();
  for (const auto& item : attrs->get_array()) {
    auto attr = DecodeAttribute(item);
    if (!attr) return Fail(attr.error());
    e.attrs.push_back(std::move(*attr));
  }
  return e;
}

std::string EncodeMetadataJson(const NamedList<Metadata>& metadata) {
  if (metadata.empty()) return "";
  return bj::serialize(EncodeMetadata(metadata));
}

Result<NamedList<Metadata>> DecodeMetadataJson(std::string_view text) {
  if (text.empty()) return NamedList<Metadata>{};
  auto parsed = json::Parse(text, {.max_depth = 64});
  if (!parsed) return Fail(Error::Internal("stored metadata is not JSON"));
  return DecodeMetadata(*parsed);
}

}  // namespace zc::context
