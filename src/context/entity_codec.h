// The storage encoding of an entity: one JSON document per entity, holding everything the
// in-memory model holds (including per-attribute creation/modification times), so that the
// state rebuilt at start is exactly the state before the stop. Layout:
//   {"id":..,"type":..,"sp":"/a","c":created_ms,"m":modified_ms,"x":expires_ms?,
//    "a":[[name,type,value,[[md_name,md_type,md_value],..],created_ms,modified_ms],..]}
// Arrays keep attribute and metadata order. This is an internal format, not NGSI.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "context/entity.h"

namespace zc::context {

std::string EncodeEntity(const Entity& entity);
Result<Entity> DecodeEntity(std::string_view text);

// An attribute's metadata in the same layout ([[name,type,value],..]), "" when it has none:
// what a history row keeps so that the attribute can be rebuilt from it.
std::string EncodeMetadataJson(const NamedList<Metadata>& metadata);
Result<NamedList<Metadata>> DecodeMetadataJson(std::string_view text);

}  // namespace zc::context
