// SQLite implementation of identity::IdentityStore in DATA_DIR/identity.db: one table of
// JSON documents keyed by (kind, key), WAL with synchronous=FULL. A separate file from the
// context store, so that an identity change never waits behind the context writer.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "identity/store.h"
#include "store/sqlite/sqlite_util.h"

namespace zc::store {

class SqliteIdentityStore : public identity::IdentityStore {
 public:
  static Result<std::unique_ptr<SqliteIdentityStore>> Open(const std::filesystem::path& data_dir);

  Result<std::vector<identity::StoredDocument>> LoadAll() override;
  Status Put(const identity::StoredDocument& document) override;
  Status Delete(const std::string& kind, const std::string& key) override;

 private:
  explicit SqliteIdentityStore(DbPtr db) : db_(std::move(db)) {}
  std::mutex mu_;  // one connection, used by one caller at a time
  DbPtr db_;
};

}  // namespace zc::store
