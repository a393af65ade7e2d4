// The write path of the context service: evaluating entity operations against the latest
// state and handing the result to the Writer (the design is described in service.cpp), and
// the purge of expired entities, which is a write like any other.
// Error texts follow Orion's, since NGSI clients and people compare them.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "common/clock.h"
#include "common/json.h"
#include "context/entity_codec.h"
#include "context/ngsi_format.h"
#include "context/service_impl.h"
#include "context/update_operators.h"

namespace zc::context {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool SameValue(const Attribute& a, const Attribute& b) {
  return a.type == b.type && a.value == b.value && a.metadata == b.metadata;
}

// Merges request metadata into existing metadata: same names are overwritten, others kept.
void MergeMetadata(NamedList<Metadata>& into, const NamedList<Metadata>& from) {
  for (const auto& [name, md] : from) {
    if (auto* existing = FindNamed(into, name)) {
      *existing = md;
    } else {
      into.emplace_back(name, md);
    }
  }
}

// The time a DateTime text states; nullopt for anything else.
std::optional<TimeMs> StatedTime(const bj::value& v) {
  if (!v.is_string()) return std::nullopt;
  return ParseIso8601(v.get_string());
}

// The times the history rows of one change are indexed at, by QuantumLeap's rule narrowed to
// what the request itself wrote: the first time-index attribute (`TimeInstant`, ...) that
// the request wrote with a date, else the first such metadata the request gave the
// attribute. A TimeInstant left from an earlier write (attribute or merged metadata) is not
// used: it would put a new value at an old time.
class TimeIndex {
 public:
  TimeIndex(const Entity& after, const std::vector<std::string>& updated,
            const NamedList<Attribute>* written, const std::vector<std::string>& names)
      : names_(names), written_(written) {
    for (const std::string& name : names_) {
      if (std::find(updated.begin(), updated.end(), name) == updated.end()) continue;
      const Attribute* a = after.Find(name);
      if (a == nullptr) continue;
      stated_ = StatedTime(a->value);
      if (stated_) return;
    }
  }

  std::optional<TimeMs> Of(std::string_view attr) const {
    if (stated_ || written_ == nullptr) return stated_;
    const Attribute* given = FindNamed(*written_, attr);
    if (given == nullptr || given->metadata.empty()) return std::nullopt;
    for (const std::string& name : names_) {
      const Metadata* m = FindNamed(given->metadata, name);
      if (m == nullptr) continue;
      if (auto t = StatedTime(m->value)) return t;
    }
    return std::nullopt;
  }

 private:
  const std::vector<std::string>& names_;
  const NamedList<Attribute>* written_;
  std::optional<TimeMs> stated_;
};

// `incoming` with an update operator in its value ({"$inc": 1}) evaluated against the
// attribute as it is (`existing`, null when absent); without a type it keeps the existing
// attribute's type or, for a new one, takes the default of the value it gets. Empty when the
// attribute is not to be written ($pull and the like on an absent attribute).
Result<std::optional<Attribute>> Evaluated(const Attribute& incoming, const Attribute* existing) {
  const std::string_view type = !incoming.type.empty() ? std::string_view(incoming.type)
                                : existing             ? std::string_view(existing->type)
                                                       : std::string_view();
  bj::value op = incoming.value;
  if (auto s = NormalizeOperatorDates(type, op); !s) return Fail(s.error());
  auto value = ApplyUpdateOperator(existing ? &existing->value : nullptr, op, IsDateTimeType(type));
  if (!value) return Fail(value.error());
  if (!*value) return std::optional<Attribute>();
  Attribute out = incoming;
  out.value = std::move(**value);
  out.type = type.empty() ? std::string(InferType(out.value)) : std::string(type);
  return std::optional<Attribute>(std::move(out));
}

// Writes `incoming` into `entity` (add or overwrite), recording what changed.
Status WriteAttribute(Entity& entity, const std::string& name, const Attribute& incoming,
                      TimeMs now, bool override_metadata, EntityChange& change) {
  Attribute* existing = entity.Find(name);
  std::optional<Attribute> evaluated;
  if (IsUpdateOperator(incoming.value)) {
    auto e = Evaluated(incoming, existing);
    if (!e) return Fail(e.error());
    if (!*e) return Ok();
    evaluated = std::move(*e);
  }
  const Attribute& source = evaluated ? *evaluated : incoming;
  change.updated_attrs.push_back(name);
  if (existing) {
    Attribute next = source;
    if (!override_metadata) {
      next.metadata = existing->metadata;
      MergeMetadata(next.metadata, source.metadata);
    }
    next.created = existing->created;
    next.modified = now;
    if (!SameValue(*existing, next)) {
      change.changed_attrs.push_back(name);
      if (existing->type == next.type && existing->value == next.value) {
        change.metadata_changed_attrs.push_back(name);
      }
    }
    *existing = std::move(next);
    return Ok();
  }
  Attribute next = source;
  next.created = now;
  next.modified = now;
  entity.attrs.emplace_back(name, std::move(next));
  change.changed_attrs.push_back(name);
  return Ok();
}

Status CheckAttrsExist(const Entity& e, const EntityOp& op, bool must_exist) {
  std::vector<std::string> wrong;
  for (const auto& [name, attr] : op.attrs) {
    if ((e.Find(name) != nullptr) != must_exist) wrong.push_back(name);
  }
  if (wrong.empty()) return Ok();
  if (must_exist) {
    return Fail(Error::Unprocessable(
        fmt::format("one or more of the attributes in the request do not exist: {} - [ {} ]", e.id,
                    JoinNames(wrong))));
  }
  return Fail(Error::Unprocessable(
      fmt::format("one or more of the attributes in the request already exist: {} - [ {} ]", e.id,
                  JoinNames(wrong))));
}

// The time of a change to `before`: now, or just after its last change when that was in the
// same millisecond (or the clock went back), so that every change of an entity has its own
// increasing time: dateModified orders them and no two history points of one attribute
// share a timestamp (QuantumLeap reads index values by time).
TimeMs ChangeTime(TimeMs now, const EntityPtr& before) {
  return before && before->modified >= now ? before->modified + 1 : now;
}

// True when `op`, applied to an existing entity, changes nothing but the attributes it
// writes and the entity's modification time (see EntityWrite::attributes_only). Without
// attributes there would be no history row to carry the new modification time.
bool WritesAttributesOnly(const EntityOp& op) {
  const bool kind = op.kind == WriteKind::kAppend || op.kind == WriteKind::kAppendStrict ||
                    op.kind == WriteKind::kUpdate;
  return kind && !op.set_expires && !op.attrs.empty();
}

// An entity grows to at most `max_attrs_per_entity` attributes, so that a client that makes
// up a new attribute name for each measurement ("temperature_1717200000") is stopped before
// every write copies an ever larger entity, and to at most `max_entity_bytes`, so that one
// that keeps adding pictures is. One already past a limit (it was lowered) may still be
// written as long as it does not grow.
Status CheckEntityLimits(const Entity* before, const Entity& after, const ServiceOptions& limits) {
  const size_t had = before != nullptr ? before->attrs.size() : 0;
  if (after.attrs.size() > limits.max_attrs_per_entity && after.attrs.size() > had) {
    return Fail(Error::PayloadTooLarge(fmt::format(
        "an entity may have at most {} attributes ([context] max_attributes_per_entity)",
        limits.max_attrs_per_entity)));
  }
  const size_t bytes = ApproxEntityBytes(after);
  if (bytes <= limits.max_entity_bytes) return Ok();
  if (before != nullptr && bytes <= ApproxEntityBytes(*before)) return Ok();
  return Fail(Error::PayloadTooLarge(
      fmt::format("the entity would take about {} bytes, more than {} ([context] max_entity_bytes)",
                  bytes, limits.max_entity_bytes)));
}

// Applies `op` (not create/delete-entity) to a copy of `before`.
Result<Entity> Modify(const Entity& before, const EntityOp& op, TimeMs now, EntityChange& change) {
  Entity e = before;
  switch (op.kind) {
    case WriteKind::kAppendStrict:
      if (auto s = CheckAttrsExist(e, op, false); !s) return Fail(s.error());
      break;
    case WriteKind::kUpdate:
      if (auto s = CheckAttrsExist(e, op, true); !s) return Fail(s.error());
      break;
    case WriteKind::kReplace:
      for (const auto& [name, attr] : e.attrs) {
        if (!FindNamed(op.attrs, name)) change.changed_attrs.push_back(name);
      }
      e.attrs.clear();
      break;
    case WriteKind::kDeleteAttrs:
      for (const auto& name : op.delete_attrs) {
        auto it = std::find_if(e.attrs.begin(), e.attrs.end(),
                               [&](const auto& kv) { return kv.first == name; });
        if (it == e.attrs.end()) {
          return Fail(Error::NotFound("The entity does not have such an attribute"));
        }
        e.attrs.erase(it);
        change.changed_attrs.push_back(name);
      }
      break;
    default:
      break;
  }
  for (const auto& [name, attr] : op.attrs) {
    if (auto s = WriteAttribute(e, name, attr, now, op.override_metadata, change); !s) {
      return Fail(s.error());
    }
  }
  if (op.set_expires) e.expires = op.expires;
  e.modified = now;
  if (auto location = EntityLocation(e); !location) return Fail(location.error());
  return e;
}

// The entity `op` makes of `base` (Modify at change.time), within the entity limits.
Result<EntityPtr> NextState(const Entity& base, const EntityOp& op, EntityChange& change,
                            const ServiceOptions& limits) {
  auto next = Modify(base, op, change.time, change);
  if (!next) return Fail(next.error());
  if (auto s = CheckEntityLimits(change.before.get(), *next, limits); !s) {
    return Fail(s.error());
  }
  return std::make_shared<const Entity>(std::move(*next));
}

}  // namespace

EntityPtr detail::WriteEvaluation::LatestIncludingExpired(const EntityKey& key) const {
  if (auto it = touched_index.find(key); it != touched_index.end()) {
    return touched[it->second].after;
  }
  if (auto pending = state->Pending(key)) return *pending;
  std::shared_lock lock(state->mu);
  return state->Committed(key);
}

EntityPtr detail::WriteEvaluation::Unexpired(EntityPtr e) const {
  if (e && e->expires && *e->expires <= now) return nullptr;
  return e;
}

EntityPtr detail::WriteEvaluation::Latest(const EntityKey& key) const {
  return Unexpired(LatestIncludingExpired(key));
}

auto detail::WriteEvaluation::FindForWrite(const std::string& id,
                                           const std::optional<std::string>& type,
                                           const std::string& path) const -> Result<Found> {
  if (type) {
    EntityKey key{id, *type, path};
    if (EntityPtr e = Latest(key)) return Found{std::move(key), std::move(e)};
    return Fail(Error::NotFound("The requested entity has not been found. Check type and id"));
  }
  // Touched and pending candidates are resolved through Latest below. A committed one is
  // taken as found under the lock: no other evaluation runs meanwhile (write_mu_), so an
  // entity that was not pending when we looked cannot become pending, and one that was is
  // a touched-or-pending candidate already.
  struct Candidate {
    EntityKey key;
    EntityPtr committed;  // null: resolve through Latest
  };
  std::vector<Candidate> candidates;
  auto consider = [&](const EntityKey& key, EntityPtr committed) {
    if (key.id != id || key.service_path != path) return;
    for (const Candidate& c : candidates) {
      if (c.key == key) return;
    }
    candidates.push_back({key, std::move(committed)});
  };
  for (const auto& t : touched) consider(t.key, nullptr);
  {
    std::lock_guard lock(state->pending_mu);
    auto [plo, phi] = state->pending_ids.equal_range(id);
    for (auto it = plo; it != phi; ++it) consider(it->second, nullptr);
  }
  {
    std::shared_lock lock(state->mu);
    auto [lo, hi] = state->nos_by_id.equal_range(id);
    for (auto it = lo; it != hi; ++it) {
      const EntityPtr& e = state->by_no.at(it->second);
      consider(KeyOf(*e), e);
    }
  }
  std::optional<Found> found;
  for (Candidate& c : candidates) {
    EntityPtr e = c.committed ? Unexpired(std::move(c.committed)) : Latest(c.key);
    if (!e) continue;
    if (found) {
      return Fail(Error::TooManyResults("More than one matching entity. Please refine your query"));
    }
    found = Found{std::move(c.key), std::move(e)};
  }
  if (!found) {
    return Fail(Error::NotFound("The requested entity has not been found. Check type and id"));
  }
  return std::move(*found);
}

void detail::WriteEvaluation::Record(EntityChange change, const EntityKey& key,
                                     const ServiceOptions& options, bool attributes_only,
                                     const NamedList<Attribute>* written) {
  const EntityPtr& after = change.after;
  if (options.history && after) {
    const TimeIndex index(*after, change.updated_attrs, written, options.time_index_attributes);
    for (const auto& name : change.updated_attrs) {
      const Attribute* a = after->Find(name);
      if (!a) continue;
      batch.history.push_back({tenant, after->service_path, after->id, after->type, name, a->type,
                               change.time, json::Dump(a->value), EncodeMetadataJson(a->metadata),
                               index.Of(name)});
    }
  }
  // Without history rows nothing would keep an attributes-only change durable.
  Touch(key, after, !(attributes_only && options.history && after));
  changes.push_back(std::move(change));
}

// A create or an upsert: the key is the id, the type (or the default type) and the path.
Status ContextService::EvaluateCreate(const WriteContext& ctx, EntityOp& op, EntityChange change,
                                      Evaluation& eval) {
  const EntityKey key{op.id, op.type.value_or(std::string(kDefaultEntityType)), ctx.service_path};
  // An expired entity not purged yet is replaced: it takes no more room.
  EntityPtr existing = eval.LatestIncludingExpired(key);
  if (!existing) ++eval.entity_delta;
  change.before = eval.Unexpired(std::move(existing));
  if (change.before && op.kind == WriteKind::kCreate) {
    return Fail(Error::AlreadyExists("Already Exists"));
  }
  Entity e;
  if (change.before) {
    e = *change.before;
  } else {
    e = Entity{
        .id = key.id, .type = key.type, .service_path = key.service_path, .created = eval.now};
  }
  change.kind = change.before ? ChangeKind::kUpdate : ChangeKind::kCreate;
  op.kind = op.kind == WriteKind::kUpsertStrict ? WriteKind::kAppendStrict : WriteKind::kAppend;
  change.time = ChangeTime(eval.now, change.before);
  auto next = NextState(e, op, change, options_);
  if (!next) return Fail(next.error());
  change.after = std::move(*next);
  const bool attributes_only = change.before != nullptr && WritesAttributesOnly(op);
  eval.Record(std::move(change), key, options_, attributes_only, &op.attrs);
  return Ok();
}

Status ContextService::Evaluate(const WriteContext& ctx, EntityOp& op, Evaluation& eval) {
  if (op.attrs.size() > options_.max_attrs_per_entity) {
    return Fail(Error::PayloadTooLarge("too many attributes in one entity"));
  }
  EntityChange change{
      .tenant = ctx.tenant, .forced = op.forced, .correlator = ctx.correlator, .time = eval.now};
  if (op.kind == WriteKind::kDeleteExpired) {
    const EntityKey key{op.id, op.type.value_or(""), ctx.service_path};
    change.before = eval.LatestIncludingExpired(key);
    if (!change.before || !change.before->expires || *change.before->expires > eval.now) {
      return Ok();  // renewed or gone meanwhile: nothing to purge
    }
    change.kind = ChangeKind::kDelete;
    --eval.entity_delta;
    eval.Record(std::move(change), key, options_);
    return Ok();
  }
  if (op.kind == WriteKind::kCreate || op.kind == WriteKind::kUpsert ||
      op.kind == WriteKind::kUpsertStrict) {
    return EvaluateCreate(ctx, op, std::move(change), eval);
  }
  auto found = eval.FindForWrite(op.id, op.type, ctx.service_path);
  if (!found) return Fail(found.error());
  const EntityKey& key = found->key;
  change.before = std::move(found->entity);
  if (op.kind == WriteKind::kDeleteEntity) {
    change.kind = ChangeKind::kDelete;
    --eval.entity_delta;
    eval.Record(std::move(change), key, options_);
    return Ok();
  }
  change.kind = ChangeKind::kUpdate;
  change.time = ChangeTime(eval.now, change.before);
  auto next = NextState(*change.before, op, change, options_);
  if (!next) return Fail(next.error());
  change.after = std::move(*next);
  eval.Record(std::move(change), key, options_, WritesAttributesOnly(op), &op.attrs);
  return Ok();
}

// A tenant holds at most max_entities_per_tenant entities, all of them in memory, so that
// one department's runaway integration (an id per reading) cannot take the memory every
// tenant shares. A tenant already past the limit (it was lowered) may still delete, update
// and replace; only a write that adds entities is refused. REQUIRES: write_mu_ held.
Status ContextService::CheckEntityCount(const Evaluation& eval) const {
  const auto limit = static_cast<int64_t>(options_.max_entities_per_tenant);
  if (limit == 0 || eval.entity_delta <= 0) return Ok();
  const int64_t held = eval.state->evaluated_entities.load();
  if (held + eval.entity_delta <= limit) return Ok();
  return Fail(Error::NoResources(
      fmt::format("this service holds {} entities and may hold at most {} ([context] "
                  "max_entities_per_tenant)",
                  held, limit)));
}

void ContextService::Apply(const WriteContext& ctx, std::vector<EntityOp> ops, Done done) {
  if (ops.size() > options_.max_batch_entities) {
    done(Fail(Error::PayloadTooLarge(
        fmt::format("too many entities in one request (max {})", options_.max_batch_entities))));
    return;
  }
  auto eval = std::make_shared<Evaluation>();
  eval->tenant = ctx.tenant;
  eval->correlator = ctx.correlator;
  eval->now = NowMs();
  std::unique_lock lock(write_mu_);
  Tenant* existing = FindTenant(ctx.tenant);
  eval->state = existing != nullptr ? existing : no_entities_.get();
  eval->seq = ++write_seq_;
  for (auto& op : ops) {
    if (auto s = Evaluate(ctx, op, *eval); !s) {
      lock.unlock();
      done(Fail(s.error()));
      return;
    }
  }
  if (auto s = CheckEntityCount(*eval); !s) {
    lock.unlock();
    done(Fail(s.error()));
    return;
  }
  if (eval->state == no_entities_.get() && !eval->touched.empty()) {
    eval->state = &TenantFor(ctx.tenant);  // the tenant's first entity
  }
  Tenant& t = *eval->state;
  if (eval->entity_delta != 0) t.evaluated_entities += eval->entity_delta;
  {
    std::lock_guard pending_lock(t.pending_mu);
    for (const auto& [key, after, full] : eval->touched) {
      auto [it, inserted] =
          t.pending.insert_or_assign(key, detail::TenantState::PendingEntry{after, eval->seq});
      if (inserted) t.pending_ids.emplace(key.id, key);
    }
  }
  for (const auto& [key, after, full] : eval->touched) {
    // An attributes-only write needs no document: the store may keep its history rows now
    // and write the document later.
    eval->batch.entities.push_back(
        {ctx.tenant, key, after, after && full ? EncodeEntity(*after) : "", !full});
  }
  WriteBatch batch = std::move(eval->batch);
  writer_.Submit(
      std::move(batch),
      [this, eval, done = std::move(done)](Status s) { OnDurable(eval, std::move(s), done); },
      [this, eval](Status s) {
        if (s) Publish(*eval);
      });
}

// Writer thread, before the group's completions: keeps the tenant's lock from one batch
// to the next, so a group of requests to one tenant takes it once.
void ContextService::Publish(const Evaluation& eval) {
  Tenant& t = *eval.state;
  if (publish_tenant_ != &t) {
    EndPublish();
    publish_lock_ = std::unique_lock(t.mu);
    publish_tenant_ = &t;
  }
  for (const auto& [key, after, full] : eval.touched) t.Put(key, after);
}

void ContextService::EndPublish() {
  if (publish_lock_.owns_lock()) publish_lock_.unlock();
  publish_tenant_ = nullptr;
}

void ContextService::OnDurable(const std::shared_ptr<Evaluation>& eval, Status status,
                               const Done& done) {
  Tenant& t = *eval->state;  // Publish() has put its entities into the committed state
  {
    std::lock_guard lock(t.pending_mu);
    for (const auto& [key, after, full] : eval->touched) {
      auto it = t.pending.find(key);
      if (it == t.pending.end() || it->second.seq != eval->seq) continue;
      t.pending.erase(it);
      auto [lo, hi] = t.pending_ids.equal_range(key.id);
      for (auto p = lo; p != hi; ++p) {
        if (p->second == key) {
          t.pending_ids.erase(p);
          break;
        }
      }
    }
  }
  if (!status) {
    if (eval->entity_delta != 0) t.evaluated_entities -= eval->entity_delta;
    done(Fail(status.error()));
    return;
  }
  writes_.Add(eval->changes.size());
  WriteOutcome outcome;
  for (const auto& change : eval->changes) {
    changes_.Publish(change);
    if (change.kind == ChangeKind::kCreate) ++outcome.created;
    if (change.kind == ChangeKind::kUpdate) ++outcome.updated;
    if (change.kind == ChangeKind::kDelete) ++outcome.deleted;
  }
  done(outcome);
}

void ContextService::PurgeExpired(const std::function<void(size_t)>& done) {
  // (tenant, service path) -> delete ops, collected under the tenants' shared locks.
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<EntityOp>>> work;
  const TimeMs now = NowMs();
  std::vector<std::pair<std::string, const Tenant*>> tenants;  // never removed: stable
  {
    std::shared_lock lock(tenants_mu_);
    for (const auto& [name, t] : tenants_) tenants.emplace_back(name, t.get());
  }
  for (const auto& [name, t] : tenants) {
    detail::ScanLock scan(*t);
    const std::string& tenant = name;  // (clang-tidy 16 crashed on captured bindings)
    detail::WalkNumbered(
        scan, [&] { return &t->by_no; },
        [&](uint64_t, const EntityPtr& e) {
          if (!e->expires.has_value() || *e->expires > now) return true;
          auto& batches = work[{tenant, e->service_path}];
          if (batches.empty() || batches.back().size() == options_.max_batch_entities) {
            batches.emplace_back();
          }
          batches.back().push_back(
              {.kind = WriteKind::kDeleteExpired, .id = e->id, .type = e->type});
          return true;
        });
  }
  if (work.empty()) return done(0);
  struct Progress {
    std::mutex mu;
    size_t remaining = 0;
    size_t removed = 0;
  };
  auto progress = std::make_shared<Progress>();
  for (const auto& place : work) progress->remaining += place.second.size();
  for (auto& place : work) {
    for (auto& ops : place.second) {
      Apply({.tenant = place.first.first, .service_path = place.first.second}, std::move(ops),
            [progress, done](Result<WriteOutcome> r) {
              std::lock_guard lock(progress->mu);
              if (r) progress->removed += r->deleted;
              if (--progress->remaining == 0) done(progress->removed);
            });
    }
  }
}

}  // namespace zc::context
