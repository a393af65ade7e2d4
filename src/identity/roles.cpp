#include "identity/roles.h"

#include <algorithm>

namespace zc::identity {

const std::vector<RoleInfo>& Roles() {
  using namespace perm;
  static const std::vector<RoleInfo> roles = {
      {"platform_admin",
       "平台管理员",
       "manages departments, users, accounts, tokens; all data",
       {kContextRead, kContextWrite, kHistoryDelete, kSubscriptionsRead, kSubscriptionsWrite,
        kIdentityRead, kIdentityWrite, kOpsRead, kCasesRead, kCasesReport, kCasesHandle,
        kCasesDispatch, kAlertsRead, kAlertsPublish, kCatalogRead, kCatalogManage}},
      {"security_auditor", "安全审计员", "reads the audit log and nothing else", {kAuditRead}},
      {"operator",
       "值班长/受理员/派遣员",
       "operations centre: watches, registers, dispatches",
       {kContextRead, kSubscriptionsRead, kSubscriptionsWrite, kCasesRead, kCasesReport,
        kCasesDispatch, kAlertsRead, kAlertsPublish}},
      {"department_handler",
       "部门处置人员",
       "a department's staff: receives and closes cases",
       {kContextRead, kCasesRead, kCasesHandle, kAlertsRead}},
      {"inspector", "监督员", "field inspector: reports problems", {kCasesRead, kCasesReport}},
      {"data_steward",
       "数据管理员",
       "publishes and maintains context data and catalogues",
       {kContextRead, kContextWrite, kHistoryDelete, kSubscriptionsRead, kSubscriptionsWrite,
        kCatalogRead, kCatalogManage}},
      {"viewer",
       "查看者",
       "reads context data, cases and alerts",
       {kContextRead, kSubscriptionsRead, kCasesRead, kAlertsRead, kCatalogRead}},
      {"device", "设备", "ingest only: writes context data", {kContextWrite}},
      {"monitor", "运维监控", "scrapes /metrics", {kOpsRead}},
  };
  return roles;
}

std::vector<std::string> AllPermissions() {
  std::vector<std::string> all;
  for (const RoleInfo& role : Roles()) {
    all.insert(all.end(), role.permissions.begin(), role.permissions.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

bool IsKnownRole(std::string_view role) {
  const auto& roles = Roles();
  return std::any_of(roles.begin(), roles.end(), [&](const RoleInfo& r) { return r.name == role; });
}

std::vector<std::string> PermissionsOf(const std::vector<std::string>& roles) {
  std::vector<std::string> out;
  for (const RoleInfo& role : Roles()) {
    if (std::find(roles.begin(), roles.end(), role.name) == roles.end()) continue;
    out.insert(out.end(), role.permissions.begin(), role.permissions.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace zc::identity
