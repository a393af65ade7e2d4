#include "store/sqlite/identity_store.h"

namespace zc::store {

Result<std::unique_ptr<SqliteIdentityStore>> SqliteIdentityStore::Open(
    const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto db = OpenDb(data_dir / "identity.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
  if (!db) return Fail(db.error());
  if (auto s = Exec(db->get(),
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                    "CREATE TABLE IF NOT EXISTS identity_document ("
                    "  kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,"
                    "  PRIMARY KEY (kind, key)) WITHOUT ROWID;");
      !s) {
    return Fail(s.error());
  }
  return std::unique_ptr<SqliteIdentityStore>(new SqliteIdentityStore(std::move(*db)));
}

Result<std::vector<identity::StoredDocument>> SqliteIdentityStore::LoadAll() {
  std::lock_guard lock(mu_);
  auto st = Prepare(db_.get(), "SELECT kind, key, json FROM identity_document");
  if (!st) return Fail(st.error());
  std::vector<identity::StoredDocument> out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    out.push_back({std::string(ColumnText(st->get(), 0)), std::string(ColumnText(st->get(), 1)),
                   std::string(ColumnText(st->get(), 2))});
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db_.get(), "identity load"));
  return out;
}

Status SqliteIdentityStore::Put(const identity::StoredDocument& document) {
  std::lock_guard lock(mu_);
  auto st = Prepare(db_.get(),
                    "INSERT INTO identity_document (kind, key, json) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (kind, key) DO UPDATE SET json = excluded.json");
  if (!st) return Fail(st.error());
  BindText(st->get(), 1, document.kind);
  BindText(st->get(), 2, document.key);
  BindText(st->get(), 3, document.json);
  return StepDone(db_.get(), st->get(), "identity put");
}

Status SqliteIdentityStore::Delete(const std::string& kind, const std::string& key) {
  std::lock_guard lock(mu_);
  auto st = Prepare(db_.get(), "DELETE FROM identity_document WHERE kind = ?1 AND key = ?2");
  if (!st) return Fail(st.error());
  BindText(st->get(), 1, kind);
  BindText(st->get(), 2, key);
  return StepDone(db_.get(), st->get(), "identity delete");
}

}  // namespace zc::store
