// Entity key hashing and size estimates (the rest of the model is plain data in entity.h).
#include "context/entity.h"

#include <functional>

namespace zc::context {

size_t EntityKeyHash::operator()(const EntityKey& k) const noexcept {
  const std::hash<std::string> h;
  size_t seed = h(k.id);
  seed ^= h(k.type) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  seed ^= h(k.service_path) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed;
}

size_t ApproxJsonBytes(const bj::value& value) {
  constexpr size_t kNumberBytes = 8;
  switch (value.kind()) {
    case bj::kind::string:
      return value.get_string().size() + 2;
    case bj::kind::array: {
      size_t n = 2;
      for (const auto& item : value.get_array()) n += ApproxJsonBytes(item) + 1;
      return n;
    }
    case bj::kind::object: {
      size_t n = 2;
      for (const auto& [key, item] : value.get_object()) {
        n += key.size() + 4 + ApproxJsonBytes(item);
      }
      return n;
    }
    case bj::kind::bool_:
      return 5;
    case bj::kind::null:
      return 4;
    default:
      return kNumberBytes;
  }
}

size_t ApproxEntityBytes(const Entity& entity) {
  // {"id":"","type":"",...}; per attribute "":{"type":"","value":,"metadata":{}},
  constexpr size_t kEntityFrame = 20;
  constexpr size_t kAttributeFrame = 40;
  constexpr size_t kMetadataFrame = 24;
  size_t n = kEntityFrame + entity.id.size() + entity.type.size() + entity.service_path.size();
  for (const auto& [name, attr] : entity.attrs) {
    n += kAttributeFrame + name.size() + attr.type.size() + ApproxJsonBytes(attr.value);
    for (const auto& [md_name, md] : attr.metadata) {
      n += kMetadataFrame + md_name.size() + md.type.size() + ApproxJsonBytes(md.value);
    }
  }
  return n;
}

}  // namespace zc::context
