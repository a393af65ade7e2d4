// See tables.h.
#include "api/ql/tables.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/clock.h"
#include "common/json.h"

namespace zc::api::ql {
namespace {

// Integral values print as integers (a count is 30, not 3E1), others in shortest form.
std::string FormatNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  if (v == std::trunc(v) && std::fabs(v) < 9.0e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// QuantumLeap stores a value in its attribute's column type: a Number sent as the text
// "21.5" (IoT Agents send UltraLight measures so) is read back as the number 21.5.
std::string CastValue(std::string value_json, std::string_view attr_type) {
  if ((attr_type != "Number" && attr_type != "Integer") || !value_json.starts_with('"')) {
    return value_json;
  }
  auto text = json::Parse(value_json);
  if (!text || !text->is_string()) return value_json;
  const std::string_view inner = text->get_string();
  auto number = json::Parse(inner);
  if (!number || !number->is_number() || inner.empty() || inner.front() == ' ' ||
      inner.back() == ' ') {
    return value_json;
  }
  return std::string(inner);
}

}  // namespace

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void AppendTime(std::string& out, TimeMs t) {
  std::string iso = FormatIso8601(t);
  if (iso.ends_with('Z')) iso.replace(iso.size() - 1, 1, "+00:00");
  AppendString(out, iso);
}

void AppendIndex(std::string& out, const EntityTable& t, const std::vector<std::string>* fixed) {
  out.append("\"index\":[");
  if (fixed != nullptr) {
    for (size_t i = 0; i < fixed->size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendString(out, (*fixed)[i]);
    }
  } else {
    bool first = true;
    for (const TimeMs time : t.index) {
      if (!first) out.push_back(',');
      first = false;
      AppendTime(out, time);
    }
  }
  out.push_back(']');
}

void AppendValues(std::string& out, const EntityTable& t, const std::string& attr, bool aligned) {
  out.append("\"values\":[");
  const auto it = t.attrs.find(attr);
  bool first = true;
  auto emit = [&](std::string_view v) {
    if (!first) out.push_back(',');
    first = false;
    out.append(v);
  };
  if (it == t.attrs.end()) {
    for (size_t i = 0; i < t.index.size(); ++i) emit("null");
  } else if (!aligned) {
    for (const auto& [time, value] : it->second) emit(value);
  } else {
    for (const TimeMs time : t.index) {
      const auto v = it->second.find(time);
      emit(v == it->second.end() ? std::string_view("null") : std::string_view(v->second));
    }
  }
  out.push_back(']');
}

Result<Tables> Load(context::ContextStore& store, const QlRequest& r) {
  Tables tables;
  auto add = [&](const std::string& id, const std::string& type, const std::string& attr,
                 TimeMs time, std::string value) {
    EntityTable& t = tables[{id, type}];
    if (t.id.empty()) t.id = id, t.type = type;
    t.index.insert(time);
    t.attrs[attr][time] = std::move(value);
  };
  if (!r.aggr_method) {
    auto points = store.QueryHistory(r.query);
    if (!points) return Fail(points.error());
    for (auto& p : *points) {
      add(p.entity_id, p.entity_type, p.attr, p.time,
          CastValue(std::move(p.value_json), p.attr_type));
    }
    return tables;
  }
  context::HistoryAggregateQuery aq{r.query, *r.aggr_method, r.aggr_period};
  auto buckets = store.AggregateHistory(aq);
  if (!buckets) return Fail(buckets.error());
  for (auto& b : *buckets) {
    add(b.entity_id, b.entity_type, b.attr, b.start, b.value ? FormatNumber(*b.value) : "null");
  }
  return tables;
}

bool NothingNumeric(const QlRequest& r, const Tables& tables) {
  if (!r.aggr_method || *r.aggr_method == context::AggrMethod::kCount) return false;
  // (Not structured bindings: clang-tidy 16's optional-access analysis crashes on these
  // nested ones.)
  for (const auto& entity : tables) {
    for (const auto& attr : entity.second.attrs) {
      for (const auto& point : attr.second) {
        if (point.second != "null") return false;
      }
    }
  }
  return true;
}

std::vector<const EntityTable*> InRequestOrder(const Tables& tables,
                                               const std::vector<std::string>& ids) {
  std::vector<const EntityTable*> order;
  std::set<const EntityTable*> placed;  // those of `ids` (a repeated id counts once)
  for (const std::string& id : ids) {
    for (auto it = tables.lower_bound({id, std::string()});
         it != tables.end() && it->first.first == id; ++it) {
      if (placed.insert(&it->second).second) order.push_back(&it->second);
    }
  }
  for (const auto& [key, t] : tables) {
    if (!placed.contains(&t)) order.push_back(&t);
  }
  return order;
}

void AppendAttributes(std::string& out, const EntityTable& t, bool whole) {
  out.append("\"attributes\":[");
  bool first = true;
  for (const auto& [attr, values] : t.attrs) {
    out.append(first ? "{\"attrName\":" : ",{\"attrName\":");
    first = false;
    AppendString(out, attr);
    out.push_back(',');
    AppendValues(out, t, attr, !whole);
    out.push_back('}');
  }
  out.push_back(']');
}

void AppendTypes(std::string& out, const Tables& tables, const std::string& attr,
                 const std::vector<std::string>* fixed) {
  std::map<std::string_view, std::vector<const EntityTable*>> by_type;
  for (const auto& [key, t] : tables) {
    if (t.attrs.contains(attr)) by_type[t.type].push_back(&t);
  }
  out.push_back('[');
  for (const auto& [type, entities] : by_type) {
    if (out.back() != '[') out.push_back(',');
    out.append("{\"entityType\":");
    AppendString(out, type);
    out.append(",\"entities\":[");
    for (size_t i = 0; i < entities.size(); ++i) {
      out.append(i == 0 ? "{\"entityId\":" : ",{\"entityId\":");
      AppendString(out, entities[i]->id);
      out.push_back(',');
      AppendIndex(out, *entities[i], fixed);
      out.push_back(',');
      AppendValues(out, *entities[i], attr, fixed == nullptr);
      out.push_back('}');
    }
    out.append("]}");
  }
  out.push_back(']');
}

}  // namespace zc::api::ql
