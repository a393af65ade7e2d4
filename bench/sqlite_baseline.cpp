// Raw SQLite baseline for bench/run: how fast this machine can durably append
// (entity, attr, time, value) rows with nothing else in the way.
//
//   sqlite_baseline DB_PATH ROWS [ROWS_PER_TRANSACTION=10000]
//
// WAL journal, synchronous=FULL, one unindexed table, one prepared INSERT reused, ROWS rows in
// transactions of ROWS_PER_TRANSACTION (each COMMIT is durable). Rows look like the ones
// the op/update benchmark writes: 1,000 entities x 5 attributes, numbers and a text.
// Prints one line of JSON: {"rows":..,"seconds":..,"rows_per_s":..}.
// Built by bench/run with: g++ -O2 -std=c++17 sqlite_baseline.cpp -lsqlite3
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

static void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite_baseline: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    std::exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DB_PATH ROWS [ROWS_PER_TRANSACTION]\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const long rows = std::atol(argv[2]);
  const long per_tx = argc > 3 ? std::atol(argv[3]) : 10000;
  sqlite3* db = nullptr;
  Check(sqlite3_open(path, &db), db, "open");
  Check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS history(entity TEXT, attr TEXT, time INTEGER,"
                     " value TEXT);",
                     nullptr, nullptr, nullptr),
        db, "setup");
  sqlite3_stmt* insert = nullptr;
  Check(sqlite3_prepare_v2(db, "INSERT INTO history(entity, attr, time, value) VALUES(?,?,?,?)", -1,
                           &insert, nullptr),
        db, "prepare");
  static const char* kAttrs[] = {"temperature", "relativeHumidity", "atmosphericPressure",
                                 "windSpeed", "weatherType"};
  const auto t0 = std::chrono::steady_clock::now();
  std::string entity, value;
  long written = 0;
  while (written < rows) {
    Check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (long i = 0; i < per_tx && written < rows; ++i, ++written) {
      const long e = (written / 5) % 10000;
      const int a = static_cast<int>(written % 5);
      entity = "urn:ngsi-ld:WeatherObserved:bench-" + std::to_string(e);
      value = a == 4 ? (written % 2 ? "\"sunny\"" : "\"cloudy\"")
                     : std::to_string(20.0 + static_cast<double>(written % 100) / 10);
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      sqlite3_bind_text(insert, 1, entity.data(), static_cast<int>(entity.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, kAttrs[a], -1, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 3, now_ms);
      sqlite3_bind_text(insert, 4, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      Check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  std::printf("{\"rows\":%ld,\"seconds\":%.6f,\"rows_per_s\":%.1f}\n", written, seconds,
              written / seconds);
  return 0;
}
