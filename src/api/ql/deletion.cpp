// QuantumLeap's history deletion: DELETE /ql/v2/entities/{entityId} and
// DELETE /ql/v2/types/{entityType} (src/reporter/delete.py). The selection is what a read
// with the same parameters would show, narrowed to the caller's write grants; the store
// deletes it (ContextStore::DeleteHistory) without touching the entities' current state.
// Answers: 204 with no body when something was deleted, 404 "No records were found for
// such query." when nothing matched, 409 AmbiguousNGSIIdError for an id under several
// types without `type`, as QuantumLeap has them.
#include <spdlog/spdlog.h>

#include "api/ql/handlers.h"
#include "api/ql/params.h"
#include "http/router.h"

namespace zc::api::ql {
namespace {

http::Response Deleted(context::ContextStore& store, const context::HistoryQuery& selection,
                       const http::RequestContext& ctx) {
  auto removed = store.DeleteHistory(selection);
  if (!removed) return ErrorResponse(removed.error());
  spdlog::info("history: {} deleted {} rows (request {})", ctx.path, *removed, ctx.request_id);
  if (*removed == 0) return NoRecords();
  return http::Response::Empty(204);
}

// Whether `id` has history under more than one type in the selection's tenant and scopes
// (at any time: QuantumLeap asks which types the id has, then deletes).
Result<bool> Ambiguous(context::ContextStore& store, context::HistoryQuery selection) {
  selection.from.reset();
  selection.to.reset();
  selection.limit = 2;
  selection.offset = 0;
  auto entities = store.ListHistoryEntities(selection);
  if (!entities) return Fail(entities.error());
  return entities->size() > 1;
}

}  // namespace

http::Response DeleteEntity(context::ContextStore& store, const http::RequestContext& ctx,
                            Shape /*shape*/) {
  auto r = ParseRequest(ctx, Access::kWrite);
  if (!r) return ErrorResponse(r.error());
  const std::string id(ctx.Param("entityId"));
  r->query.entity_ids = {id};
  if (r->query.entity_types.empty()) {
    auto ambiguous = Ambiguous(store, r->query);
    if (!ambiguous) return ErrorResponse(ambiguous.error());
    if (*ambiguous) {
      http::Response conflict = ErrorResponse(AmbiguousId(id));
      conflict.status = 409;  // QuantumLeap's delete answers 409 where its reads answer 400
      return conflict;
    }
  }
  return Deleted(store, r->query, ctx);
}

http::Response DeleteType(context::ContextStore& store, const http::RequestContext& ctx,
                          Shape /*shape*/) {
  auto r = ParseRequest(ctx, Access::kWrite);
  if (!r) return ErrorResponse(r.error());
  const std::string_view drop = ctx.Query("dropTable").value_or("false");
  if (drop != "true" && drop != "false") {
    return ErrorResponse(Error::BadRequest("'dropTable' must be true or false"));
  }
  if (drop == "true") {  // QuantumLeap drops the type's table: every date goes
    r->query.from.reset();
    r->query.to.reset();
  }
  r->query.entity_types = {std::string(ctx.Param("entityType"))};
  return Deleted(store, r->query, ctx);
}

}  // namespace zc::api::ql
