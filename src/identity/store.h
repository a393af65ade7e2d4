// The storage port of the identity module: documents (the JSON of codec.h, View::kStored)
// keyed by kind and key. store/sqlite implements it in DATA_DIR/identity.db. Every Put and
// Delete is durable when it returns; identity changes are rare, so there is no batching.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace zc::identity {

inline constexpr const char* kKindDepartment = "department";
inline constexpr const char* kKindUser = "user";
inline constexpr const char* kKindServiceAccount = "service_account";
inline constexpr const char* kKindToken = "token";

struct StoredDocument {
  std::string kind;
  std::string key;
  std::string json;
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;
  virtual Result<std::vector<StoredDocument>> LoadAll() = 0;
  virtual Status Put(const StoredDocument& document) = 0;
  virtual Status Delete(const std::string& kind, const std::string& key) = 0;
};

}  // namespace zc::identity
