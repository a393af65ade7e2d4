// SQL shared by the writer and the readers of the staged history (staged_history.cpp).
#pragma once

#include <string>

namespace zc::store {

// The columns a history row is written with, in history and history_staged alike (see
// schema.cpp), in the order BindHistoryRow binds them: every insert and every move names
// them through this, so that a column added later cannot be left behind by one of them.
inline constexpr const char* kHistoryRowColumns =
    "chunk, series, time, seq, value, metadata, modified";

// Staged rows a sweep step moves with one statement (unused parameters are bound to -1).
inline constexpr int kMoveRows = 64;

// "INSERT INTO history ... SELECT ... FROM history_staged WHERE seq IN (?1 .. ?kMoveRows)".
std::string MoveStagedRowsSql();

// True for a row `s` of history_staged that the sweep has not moved into history yet: not
// below the sweep's end seq with a (chunk, series) below its cursor. The mark is read from
// store_meta, so a reader sees the rows of its own snapshot exactly once.
inline constexpr const char* kStagedNotMovedSql =
    "NOT (s.seq < coalesce((SELECT value FROM store_meta WHERE key = 'sweep_seq'), 0) "
    "AND (s.chunk, s.series) < ((SELECT value FROM store_meta WHERE key = 'sweep_chunk'), "
    "(SELECT value FROM store_meta WHERE key = 'sweep_series')))";

}  // namespace zc::store
