// The SQLite schema of the embedded store and its migrations (layout in schema.cpp).
#pragma once

#include <sqlite3.h>

#include "common/result.h"

namespace zc::store {

// The schema version this binary writes.
inline constexpr int kSchemaVersion = 4;

// The version recorded in the database (0 for a fresh file).
Result<int> SchemaVersion(sqlite3* db);

// Brings the database to kSchemaVersion in one transaction: every pending migration or
// none. A database newer than this binary is an Internal error (refuse to touch it).
Status Migrate(sqlite3* db);

}  // namespace zc::store
