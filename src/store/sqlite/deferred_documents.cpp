// Deferred entity documents: how SqliteStore keeps the hot path an append.
//
// Most writes to a city's entities are sensors reporting new values: attributes-only
// writes (EntityWrite::attributes_only). Storing the whole entity document on each of them
// rewrites a page of the entities table per entity per commit, which is most of a commit's
// pages. Instead, such a write is made durable by its history rows alone (they carry the
// attribute's type, value, metadata and time, which is everything it changed), and the
// entity joins `deferred_`, oldest first. Its document is written later, once per
// `document_delay_ms` at most: by a commit (up to as many documents as that commit deferred,
// at least kMinFlushPerCommit, so the backlog cannot grow faster than it drains), by the
// writer's idle Flush(kDue), and at shutdown by Flush(kAll).
//
// Each stored document carries the seq of the last history row it includes
// (entities.seq), and `store_meta.flushed_through` says that every history row up to that
// seq is in its entity's document. At start, LoadEntities replays onto each document the
// newest row of each of its attributes after flushed_through whose seq is above the
// document's, then stores the rebuilt documents (StoreRebuilt), so that a second crash
// does not depend on those rows. A commit that stores a document (a create, a delete, a replace, a
// flush) stores the latest state of that entity in the commit, with the commit's last seq, so
// replay never applies a row the document already holds.
//
// Retention (PruneHistory) only removes chunks whose rows are all <= flushed_through.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "common/json.h"
#include "context/entity_codec.h"
#include "store/sqlite/sqlite_store.h"

namespace zc::store {
namespace {

constexpr size_t kMinFlushPerCommit = 256;
constexpr size_t kFlushChunk = 2000;  // documents per Flush transaction

std::string RowKey(std::string_view tenant, const context::EntityKey& key) {
  std::string k;
  k.reserve(tenant.size() + key.id.size() + key.type.size() + key.service_path.size() + 3);
  k.append(tenant).append(1, '\x1f').append(key.id).append(1, '\x1f');
  k.append(key.type).append(1, '\x1f').append(key.service_path);
  return k;
}

// The newest history row of one attribute after flushed_through.
struct ReplayRow {
  int64_t seq = 0;
  TimeMs time = 0;
  std::string attr;
  std::string attr_type;
  std::string value_json;
  std::string metadata_json;
};
using ReplayRows = std::unordered_map<std::string, std::vector<ReplayRow>>;  // by row key

void KeepNewest(std::vector<ReplayRow>& rows, ReplayRow row) {
  for (ReplayRow& r : rows) {
    if (r.attr != row.attr) continue;
    if (row.seq > r.seq) r = std::move(row);
    return;
  }
  rows.push_back(std::move(row));
}

// Applies the rows newer than the document (seq > doc_seq) to `e`, oldest first.
Status Replay(context::Entity& e, std::vector<ReplayRow>& rows, int64_t doc_seq) {
  std::sort(rows.begin(), rows.end(),
            [](const ReplayRow& a, const ReplayRow& b) { return a.seq < b.seq; });
  for (ReplayRow& r : rows) {
    if (r.seq <= doc_seq) continue;
    auto value = json::Parse(r.value_json, {.max_depth = 64});
    auto metadata = context::DecodeMetadataJson(r.metadata_json);
    if (!value || !metadata) {
      return Fail(Error::DataLoss("corrupt history row " + std::to_string(r.seq) + " of " + e.id));
    }
    if (context::Attribute* a = e.Find(r.attr)) {
      a->type = std::move(r.attr_type);
      a->value = std::move(*value);
      a->metadata = std::move(*metadata);
      a->modified = r.time;
    } else {
      e.attrs.emplace_back(r.attr, context::Attribute{std::move(r.attr_type), std::move(*value),
                                                      std::move(*metadata), r.time, r.time});
    }
    e.modified = std::max(e.modified, r.time);
  }
  return Ok();
}

// Fills `rows` with the newest row of each attribute after flushed_through, which are all
// in chunks from `first_chunk` on. (An out parameter: GCC 12 warns falsely about a
// Result<unordered_map> destroyed on a path.)
Status LoadReplayRows(sqlite3* db, int64_t flushed_through, int64_t first_chunk, ReplayRows& rows) {
  // Only history: Init moved every staged row there before (staged_history.cpp).
  auto st = Prepare(
      db,
      "SELECT h.seq, coalesce(h.modified, h.time), h.value, coalesce(h.metadata, ''), s.tenant, "
      "s.service_path, s.entity_id, s.entity_type, s.attr, s.attr_type "
      "FROM history h JOIN history_series s ON s.id = h.series "
      "WHERE h.chunk >= ?1 AND h.seq > ?2");
  if (!st) return Fail(st.error());
  sqlite3_bind_int64(st->get(), 1, first_chunk);
  sqlite3_bind_int64(st->get(), 2, flushed_through);
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st->get();
    const context::EntityKey key{std::string(ColumnText(s, 6)), std::string(ColumnText(s, 7)),
                                 std::string(ColumnText(s, 5))};
    KeepNewest(rows[RowKey(ColumnText(s, 4), key)],
               {sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                std::string(ColumnText(s, 8)), std::string(ColumnText(s, 9)),
                std::string(ColumnText(s, 2)), std::string(ColumnText(s, 3))});
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(db, "load history to replay"));
  return Ok();
}

}  // namespace

// Decides, before the transaction, which documents the commit stores: every entity with a
// write that is not attributes-only, the due deferred ones (within the budget), and what
// flushed_through becomes. The rows of this commit get seqs first_seq..last_seq.
SqliteStore::EntityPlan SqliteStore::PlanEntities(const std::vector<context::EntityWrite>& writes,
                                                  int64_t first_seq, int64_t last_seq) {
  EntityPlan plan;
  size_t deferrable = 0;
  for (const context::EntityWrite& w : writes) {
    auto [it, inserted] = plan.slots.try_emplace(RowKey(w.tenant, w.key));
    if (inserted) plan.order.push_back(it);
    it->second.last = &w;
    it->second.full |= !w.attributes_only || options_.document_delay_ms <= 0;
    if (w.attributes_only) ++deferrable;
  }
  plan.now = SteadyNow();
  const size_t budget = std::max(kMinFlushPerCommit, deferrable);
  for (auto it = deferred_.begin(); it != deferred_.end() && plan.flush.size() < budget; ++it) {
    if (plan.now - it->since < options_.document_delay_ms) break;
    if (auto s = plan.slots.find(*it->row_key); s != plan.slots.end()) s->second.full = true;
    plan.flush.push_back(it);
  }
  // The oldest deferred document that stays deferred bounds flushed_through.
  bool new_deferred = false;
  for (const auto& it : plan.order) new_deferred |= !it->second.full;
  plan.flushed_through = new_deferred ? first_seq - 1 : last_seq;
  for (auto it = std::next(deferred_.begin(), static_cast<long>(plan.flush.size()));
       it != deferred_.end(); ++it) {
    auto s = plan.slots.find(*it->row_key);
    if (s == plan.slots.end() || !s->second.full) {
      plan.flushed_through = it->first_seq - 1;
      break;
    }
  }
  if (replay_pending_) plan.flushed_through = std::min(plan.flushed_through, flushed_through_);
  return plan;
}

Status SqliteStore::WriteDocument(const std::string& tenant, const context::EntityKey& key,
                                  const context::Entity& after, const std::string& document,
                                  int64_t seq) {
  const std::string encoded = document.empty() ? context::EncodeEntity(after) : "";
  const std::string& doc = document.empty() ? encoded : document;
  // Most documents replace an existing one: UPDATE finds it with one primary-key search,
  // where an upsert searches for the conflict first. A new entity is inserted.
  for (sqlite3_stmt* st : {stmts_.update_entity.get(), stmts_.insert_entity.get()}) {
    BindText(st, 1, tenant);
    BindText(st, 2, key.service_path);
    BindText(st, 3, key.id);
    BindText(st, 4, key.type);
    BindText(st, 5, doc);
    sqlite3_bind_int64(st, 6, seq);
    if (auto s = StepDone(writer_.get(), st, "write entity"); !s) return s;
    if (sqlite3_changes(writer_.get()) > 0) break;
  }
  return Ok();
}

Status SqliteStore::WriteDocuments(const EntityPlan& plan, int64_t seq) {
  for (const DeferredList::iterator& d : plan.flush) {
    if (plan.slots.contains(*d->row_key)) continue;  // stored below, in its latest state
    if (auto s = WriteDocument(d->tenant, context::KeyOf(*d->after), *d->after, "", seq); !s) {
      return s;
    }
  }
  for (const auto& it : plan.order) {
    if (!it->second.full) continue;
    const context::EntityWrite& w = *it->second.last;
    if (w.after != nullptr) {
      if (auto s = WriteDocument(w.tenant, w.key, *w.after, w.document, seq); !s) return s;
      continue;
    }
    sqlite3_stmt* st = stmts_.delete_entity.get();
    BindText(st, 1, w.tenant);
    BindText(st, 2, w.key.id);
    BindText(st, 3, w.key.type);
    BindText(st, 4, w.key.service_path);
    if (auto s = StepDone(writer_.get(), st, "delete entity"); !s) return s;
  }
  return Ok();
}

Status SqliteStore::WriteFlushedThrough(int64_t seq) {
  if (seq == flushed_through_) return Ok();
  return StoreFlushedThrough(seq);
}

Status SqliteStore::StoreFlushedThrough(int64_t seq) {
  sqlite3_stmt* st = stmts_.set_meta.get();
  BindText(st, 1, kFlushedThroughKey);
  sqlite3_bind_int64(st, 2, seq);
  return StepDone(writer_.get(), st, "write flushed_through");
}

// After a successful commit: forgets the documents it stored, remembers the ones it deferred.
void SqliteStore::AfterCommit(EntityPlan& plan, int64_t first_seq) {
  for (const DeferredList::iterator& d : plan.flush) Forget(d);
  for (const auto& it : plan.order) {
    const context::EntityWrite& w = *it->second.last;
    auto known = deferred_index_.find(it->first);
    if (it->second.full) {
      if (known != deferred_index_.end()) Forget(known->second);
    } else if (known != deferred_index_.end()) {
      known->second->after = w.after;
    } else {
      auto [entry, inserted] = deferred_index_.emplace(it->first, deferred_.end());
      deferred_.push_back({&entry->first, w.tenant, w.after, first_seq, plan.now});
      entry->second = std::prev(deferred_.end());
    }
  }
  flushed_through_ = plan.flushed_through;
  PublishDeferredMetrics();
}

void SqliteStore::Forget(DeferredList::iterator d) {
  deferred_index_.erase(deferred_index_.find(*d->row_key));
  deferred_.erase(d);
}

void SqliteStore::PublishDeferredMetrics() {
  deferred_count_ = deferred_.size();
  replay_rows_ = next_seq_ - 1 - flushed_through_;
}

void SqliteStore::ExportMetrics(metrics::Registry& metrics) {
  metrics.AddCallbackGauge("zhicheng_store_deferred_documents",
                           "Entities whose stored document waits for attribute writes",
                           [this] { return static_cast<double>(deferred_count_.load()); });
  metrics.AddCallbackGauge(
      "zhicheng_store_replay_rows",
      "History rows a start after a crash would read to rebuild entities (upper bound)",
      [this] { return static_cast<double>(replay_rows_.load()); });
  metrics.AddCallbackGauge(
      "zhicheng_store_staged_history_rows",
      "History rows of small commits not yet moved into the history table (a few thousand)",
      [this] { return static_cast<double>(staged_waiting_.load()); });
}

Status SqliteStore::Flush(FlushMode mode) {
  if (auto s = MoveStagedNow(); !s) return s;  // the writer is idle: a good time
  for (;;) {
    auto n = FlushSome(mode);
    if (!n) return Fail(n.error());
    if (mode == FlushMode::kDue || *n < kFlushChunk) return Ok();
  }
}

// Stores up to kFlushChunk deferred documents (the due ones, or all) in one transaction.
Result<size_t> SqliteStore::FlushSome(FlushMode mode) {
  std::lock_guard lock(write_mu_);
  const TimeMs now = SteadyNow();
  std::vector<DeferredList::iterator> docs;
  for (auto it = deferred_.begin(); it != deferred_.end() && docs.size() < kFlushChunk; ++it) {
    const bool due = now - it->since >= options_.document_delay_ms;
    if (mode == FlushMode::kDue && !due) break;  // oldest first: the rest are not due either
    docs.push_back(it);
  }
  if (auto s = StoreDeferred(docs); !s) return Fail(s.error());
  return docs.size();
}

Status SqliteStore::StoreDeferred(const std::vector<DeferredList::iterator>& docs) {
  if (docs.empty()) return Ok();
  const int64_t seq = next_seq_ - 1;  // every committed row is in the latest states
  // The oldest deferred document that stays deferred bounds flushed_through.
  std::unordered_set<const DeferredDocument*> stored;
  for (const DeferredList::iterator& d : docs) stored.insert(&*d);
  int64_t flushed_through = seq;
  for (const DeferredDocument& d : deferred_) {
    if (stored.contains(&d)) continue;
    flushed_through = d.first_seq - 1;
    break;
  }
  if (replay_pending_) flushed_through = std::min(flushed_through, flushed_through_);
  const Status result = InTransaction(writer_.get(), [&]() -> Status {
    for (const DeferredList::iterator& d : docs) {
      auto s = WriteDocument(d->tenant, context::KeyOf(*d->after), *d->after, "", seq);
      if (!s) return s;
    }
    return WriteFlushedThrough(flushed_through);
  });
  if (!result) return result;
  for (const DeferredList::iterator& d : docs) Forget(d);
  flushed_through_ = flushed_through;
  PublishDeferredMetrics();
  return Ok();
}

Status SqliteStore::LoadEntities(const std::function<void(std::string, context::Entity)>& sink) {
  auto reader = BorrowReader();
  if (!reader) return Fail(reader.error());
  int64_t flushed_through = 0;
  bool replay_pending = false;
  {
    std::lock_guard lock(write_mu_);
    flushed_through = flushed_through_;
    replay_pending = replay_pending_;
  }
  ReplayRows replay;
  std::vector<std::pair<std::string, context::EntityPtr>> rebuilt;
  if (replay_pending) {
    auto s = LoadReplayRows(reader->get(), flushed_through, ChunkOf(flushed_through + 1), replay);
    if (!s) return s;
  }
  auto st = Prepare(reader->get(), "SELECT tenant, doc, seq FROM entities");
  if (!st) return Fail(st.error());
  int rc;
  while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
    auto entity = context::DecodeEntity(ColumnText(st->get(), 1));
    if (!entity) {
      return Fail(Error::DataLoss("corrupt entity document in store: " + entity.error().message));
    }
    std::string tenant(ColumnText(st->get(), 0));
    if (auto r = replay.find(RowKey(tenant, context::KeyOf(*entity))); r != replay.end()) {
      if (auto s = Replay(*entity, r->second, sqlite3_column_int64(st->get(), 2)); !s) return s;
      rebuilt.emplace_back(tenant, std::make_shared<const context::Entity>(*entity));
    }
    sink(std::move(tenant), std::move(*entity));
  }
  if (rc != SQLITE_DONE) return Fail(SqlError(reader->get(), "load entities"));
  return replay_pending ? StoreRebuilt(rebuilt) : Ok();
}

// Stores the documents of the entities LoadEntities rebuilt, so that the history rows they
// were rebuilt from are no longer needed and flushed_through can advance to the end.
Status SqliteStore::StoreRebuilt(
    const std::vector<std::pair<std::string, context::EntityPtr>>& rebuilt) {
  std::lock_guard lock(write_mu_);
  const int64_t seq = next_seq_ - 1;
  const Status result = InTransaction(writer_.get(), [&]() -> Status {
    for (const auto& [tenant, e] : rebuilt) {
      if (auto s = WriteDocument(tenant, context::KeyOf(*e), *e, "", seq); !s) return s;
    }
    return WriteFlushedThrough(seq);
  });
  if (!result) return result;
  flushed_through_ = seq;
  replay_pending_ = false;
  PublishDeferredMetrics();
  if (!rebuilt.empty()) spdlog::info("storage: rebuilt {} entities from history", rebuilt.size());
  return Ok();
}

}  // namespace zc::store
