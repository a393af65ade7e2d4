// Entity key hashing (the rest of the model is plain data in entity.h).
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

}  // namespace zc::context
