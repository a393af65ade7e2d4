// The context service (see service.h for the contract). How it works:
//
// State. Each tenant holds its committed entities in creation order (`by_no`, keyed by a
// per-tenant entity number), with indexes by key, by id, by type and by place (the
// spatial index over each entity's location). Readers take the tenant's lock shared.
//
// Writes. Apply() runs under `write_mu_`, so evaluations are serialized. It evaluates each
// operation against the latest state: this batch's own overlay, then the tenant's
// `pending` map (evaluated earlier but not yet durable), then the committed state. The
// result goes to `pending` and, as one WriteBatch (entity documents + history rows), to
// the Writer, still under `write_mu_`, so commit order equals evaluation order. When a
// group of batches is durable, Publish() puts the new snapshots of the whole group into
// the committed state under one exclusive lock per tenant (the Writer's publish steps),
// then OnDurable() clears each batch's pending entries, publishes its changes on the feed
// and completes the request.
#include "context/service.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "context/service_impl.h"

namespace zc::context {

ContextService::ContextService(Writer& writer, ServiceOptions options, metrics::Registry& metrics)
    : writer_(writer),
      options_(std::move(options)),
      writes_(metrics.GetCounter("zhicheng_context_entity_writes_total",
                                 "Entity operations made durable")),
      queries_given_up_(metrics.GetCounter(
          "zhicheng_context_queries_given_up_total",
          "Entity queries given up at their visit limit (the API runs them again on its query "
          "pool, off the I/O threads)")),
      no_entities_(std::make_unique<Tenant>()) {
  metrics.AddCallbackGauge("zhicheng_entities", "Entities held (all tenants)",
                           [this] { return static_cast<double>(EntityCount()); });
  metrics.AddCallbackGauge("zhicheng_tenants", "Tenants that hold entities or held some",
                           [this] { return static_cast<double>(TenantCount()); });
  metrics.AddCallbackGauges(
      "zhicheng_tenant_entities",
      "Entities per tenant as [context] max_entities_per_tenant counts them (with the "
      "creations and deletions on their way to the disk)",
      {"tenant"}, [this] { return EntitiesPerTenant(); });
  metrics
      .GetGauge("zhicheng_max_entities_per_tenant",
                "[context] max_entities_per_tenant (0: no limit)")
      .Set(static_cast<double>(options_.max_entities_per_tenant));
  writer_.SetPublishEnd([this] { EndPublish(); });
}

ContextService::~ContextService() = default;

ContextService::Tenant& ContextService::TenantFor(const std::string& tenant) {
  if (Tenant* found = FindTenant(tenant)) return *found;
  std::unique_lock lock(tenants_mu_);
  auto& slot = tenants_[tenant];
  if (!slot) slot = std::make_unique<Tenant>();
  return *slot;
}

ContextService::Tenant* ContextService::FindTenant(const std::string& tenant) const {
  std::shared_lock lock(tenants_mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? nullptr : it->second.get();
}

size_t ContextService::EntityCount() const {
  std::shared_lock lock(tenants_mu_);
  size_t n = 0;
  for (const auto& [name, t] : tenants_) {
    std::shared_lock tl(t->mu);
    n += t->by_no.size();
  }
  return n;
}

metrics::LabelledValues ContextService::EntitiesPerTenant() const {
  metrics::LabelledValues out;
  std::shared_lock lock(tenants_mu_);
  out.reserve(tenants_.size());
  for (const auto& [name, t] : tenants_) {
    out.push_back({{name}, static_cast<double>(t->evaluated_entities.load())});
  }
  return out;
}

size_t ContextService::TenantCount() const {
  std::shared_lock lock(tenants_mu_);
  return tenants_.size();
}

Status ContextService::Load(ContextStore& store) {
  std::vector<std::pair<std::string, Entity>> loaded;
  auto s = store.LoadEntities(
      [&](std::string tenant, Entity e) { loaded.emplace_back(std::move(tenant), std::move(e)); });
  if (!s) return s;
  // Creation order is the default result order: restore it (sorting the positions, not
  // the entities, which are large to move).
  std::vector<uint32_t> order(loaded.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return loaded[a].second.created < loaded[b].second.created;
  });
  std::unordered_map<std::string, size_t> per_tenant;
  for (const auto& [tenant, e] : loaded) per_tenant[tenant]++;
  for (const auto& [tenant, n] : per_tenant) {
    Tenant& t = TenantFor(tenant);
    std::unique_lock lock(t.mu);
    t.Reserve(n);
  }
  for (uint32_t i : order) {
    auto& [tenant, e] = loaded[i];
    Tenant& t = TenantFor(tenant);
    std::unique_lock lock(t.mu);
    const EntityKey key = KeyOf(e);
    t.Put(key, std::make_shared<const Entity>(std::move(e)));
  }
  for (const auto& [tenant, n] : per_tenant) {
    Tenant& t = TenantFor(tenant);
    std::shared_lock lock(t.mu);
    t.evaluated_entities = static_cast<int64_t>(t.by_no.size());
  }
  return Ok();
}

}  // namespace zc::context
