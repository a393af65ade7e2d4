// Named permissions and the roles that bundle them. Routes declare a permission; a
// principal's roles grant permissions through the table in roles.cpp, which
// docs/security.md reproduces. Roles follow the separation of duties of graded protection
// (等级保护 三员分立): the platform admin manages users but cannot read the audit log, the
// security auditor reads the audit log and nothing else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace zc::identity {

namespace perm {
inline constexpr const char* kContextRead = "context.read";
inline constexpr const char* kContextWrite = "context.write";
// Deleting recorded history (/ql/v2 DELETE): apart from context.write, which devices hold.
inline constexpr const char* kHistoryDelete = "history.delete";
inline constexpr const char* kSubscriptionsRead = "subscriptions.read";
inline constexpr const char* kSubscriptionsWrite = "subscriptions.write";
inline constexpr const char* kIdentityRead = "identity.read";
inline constexpr const char* kIdentityWrite = "identity.write";
inline constexpr const char* kAuditRead = "audit.read";
inline constexpr const char* kOpsRead = "ops.read";  // /metrics
// Declared now for the modules that follow (cases, alerts, catalogue).
inline constexpr const char* kCasesRead = "cases.read";
inline constexpr const char* kCasesReport = "cases.report";
inline constexpr const char* kCasesHandle = "cases.handle";
inline constexpr const char* kCasesDispatch = "cases.dispatch";
inline constexpr const char* kAlertsRead = "alerts.read";
inline constexpr const char* kAlertsPublish = "alerts.publish";
inline constexpr const char* kCatalogRead = "catalog.read";
inline constexpr const char* kCatalogManage = "catalog.manage";
}  // namespace perm

struct RoleInfo {
  std::string_view name;         // "operator"
  std::string_view title_zh;     // "值班长/受理员/派遣员"
  std::string_view description;  // English, one line
  std::vector<std::string_view> permissions;
};

// Every role, in the documented order.
const std::vector<RoleInfo>& Roles();
// Every permission name, sorted.
std::vector<std::string> AllPermissions();
bool IsKnownRole(std::string_view role);
// The sorted, unique permissions of a set of roles (unknown roles grant nothing).
std::vector<std::string> PermissionsOf(const std::vector<std::string>& roles);

}  // namespace zc::identity
