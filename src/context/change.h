// The event the context service publishes on the change feed once a write is durable.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "context/entity.h"

namespace zc::context {

enum class ChangeKind { kCreate, kUpdate, kDelete };

struct EntityChange {
  ChangeKind kind = ChangeKind::kUpdate;
  std::string tenant;
  EntityPtr before;  // nullptr on create
  EntityPtr after;   // nullptr on delete
  // Attributes the request wrote (whether or not the value changed).
  std::vector<std::string> updated_attrs;
  // Attributes whose value, type or metadata actually changed, were added or were removed.
  std::vector<std::string> changed_attrs;
  // Those of changed_attrs whose value and type stayed and only metadata changed (which a
  // subscription with notifyOnMetadataChange false does not count as a change).
  std::vector<std::string> metadata_changed_attrs;
  bool forced = false;     // options=forcedUpdate: notify even without a change
  std::string correlator;  // Fiware-Correlator of the request
  TimeMs time = 0;
};

}  // namespace zc::context
