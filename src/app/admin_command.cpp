#include "app/admin_command.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "app/security.h"
#include "common/json.h"
#include "common/log.h"
#include "identity/codec.h"
#include "identity/roles.h"

namespace zc::app {
namespace {

namespace zi = zc::identity;

Result<std::vector<zi::TenantGrant>> ParseTenants(const std::vector<std::string>& specs) {
  std::vector<zi::TenantGrant> out;
  for (const auto& spec : specs) {
    auto grant = zi::ParseGrantSpec(spec);
    if (!grant) {
      return Fail(Error::BadRequest(fmt::format("--tenant '{}': want TENANT:PATH:r|rw", spec)));
    }
    out.push_back(std::move(*grant));
  }
  return out;
}

std::string ReadPassword(bool from_stdin) {
  if (!from_stdin) return {};
  std::string line;
  std::getline(std::cin, line);
  return line;
}

// Opens the data directory (refusing while a server runs it), runs `fn`, audits it.
int Run(const AdminFlags& f, const std::string& action, const std::string& target,
        const std::function<Status(Security&)>& fn) {
  log::Init("warn");  // on stderr: stdout carries only what the command prints
  auto lock = DataDirLock::Acquire(f.data);
  if (!lock) {
    fmt::print(stderr, "zhicheng admin: {} (stop the server first)\n", lock.error().message);
    return 2;
  }
  Config config;
  config.data_dir = f.data;
  auto security = OpenSecurity(config);
  if (!security) {
    fmt::print(stderr, "zhicheng admin: {}\n", security.error().message);
    return 2;
  }
  const Status s = fn(*security);
  if (!action.empty()) {
    security->audit->Record({.actor = CliActor(),
                             .actor_kind = "system",
                             .action = action,
                             .target = target,
                             .outcome = s ? "success" : "failure",
                             .detail = s ? "" : s.error().message});
    security->audit->Flush();
  }
  if (!s) {
    fmt::print(stderr, "zhicheng admin: {}\n", s.error().message);
    return 1;
  }
  return 0;
}

void Print(const boost::json::value& v) {
  fmt::print("{}\n", json::Dump(v));
}

// A subcommand `name` with one required option `option` bound to `value`, running `fn`
// audited as `action` on that value.
void AddNamed(CLI::App& parent, const char* name, const char* help, const char* option,
              std::string& value, const AdminFlags& f, int& rc, const char* action,
              std::function<Status(Security&)> fn) {
  auto* cmd = parent.add_subcommand(name, help);
  cmd->add_option(option, value)->required();
  cmd->callback([&f, &rc, &value, action, fn = std::move(fn)] { rc = Run(f, action, value, fn); });
}

Status AsStatus(const Result<zi::User>& r) {
  return r ? Ok() : Status(Fail(r.error()));
}

void AddDepartmentCommands(CLI::App& admin, AdminFlags& f, int& rc) {
  auto* dep = admin.add_subcommand("department", "Organisation units")->require_subcommand(1);
  auto* add = dep->add_subcommand("add", "Add a department, section, town or street");
  add->add_option("--code", f.code, "Unique code (GB/T 2260 where it applies)")->required();
  add->add_option("--name", f.name, "Display name")->required();
  add->add_option("--parent", f.parent, "Parent code");
  add->add_option("--kind", f.kind, "district, department, section, town, street, other");
  add->callback([&f, &rc] {
    rc = Run(f, "department.create", f.code, [&f](Security& s) {
      return s.directory->CreateDepartment({f.code, f.name, f.parent, f.kind});
    });
  });
  AddNamed(*dep, "delete", "Delete a unit without sub-units, users or accounts", "--code", f.code,
           f, rc, "department.delete",
           [&f](Security& s) { return s.directory->DeleteDepartment(f.code); });
  dep->add_subcommand("list", "List departments")->callback([&f, &rc] {
    rc = Run(f, "", "", [](Security& s) {
      for (const auto& d : s.directory->ListDepartments()) Print(zi::ToJson(d));
      return Ok();
    });
  });
}

void AddUserStateCommands(CLI::App& user, AdminFlags& f, int& rc);

void AddUserCommands(CLI::App& admin, AdminFlags& f, int& rc) {
  auto* user = admin.add_subcommand("user", "Users")->require_subcommand(1);
  auto* add = user->add_subcommand("add", "Add a user (password read from stdin)");
  add->add_option("--login", f.login)->required();
  add->add_option("--name", f.name, "Display name");
  add->add_option("--department", f.department);
  add->add_option("--role", f.roles, "A role (repeatable); see `zhicheng admin roles`");
  add->add_option("--tenant", f.tenants, "TENANT:PATH:r|rw (repeatable)");
  add->add_flag("--password-stdin", f.password_stdin, "Read the password from stdin");
  add->callback([&f, &rc] {
    rc = Run(f, "user.create", f.login, [&f](Security& s) -> Status {
      auto tenants = ParseTenants(f.tenants);
      if (!tenants) return Fail(tenants.error());
      zi::User u{.login = f.login,
                 .display_name = f.name,
                 .department = f.department,
                 .roles = f.roles,
                 .tenants = *tenants};
      return s.directory->CreateUser(u, ReadPassword(f.password_stdin), NowMs());
    });
  });
  user->add_subcommand("list", "List users")->callback([&f, &rc] {
    rc = Run(f, "", "", [](Security& s) {
      for (const auto& u : s.directory->ListUsers()) Print(zi::ToJson(u, zi::View::kPublic));
      return Ok();
    });
  });
  auto* passwd = user->add_subcommand("passwd", "Set a password (read from stdin)");
  passwd->add_option("--login", f.login)->required();
  passwd->callback([&f, &rc] {
    rc = Run(f, "user.password", f.login,
             [&f](Security& s) { return s.directory->SetPassword(f.login, ReadPassword(true)); });
  });
  AddUserStateCommands(*user, f, rc);
}

// enable, disable, unlock, delete and grant: the changes to an existing user.
void AddUserStateCommands(CLI::App& user, AdminFlags& f, int& rc) {
  const std::pair<const char*, const char*> changes[] = {
      {"enable", "Enable a user"},
      {"disable", "Disable a user (their tokens stop working)"},
      {"unlock", "Unlock a user locked out by failed logins"}};
  for (const auto& [status, help] : changes) {
    auto* cmd = user.add_subcommand(status, help);
    cmd->add_option("--login", f.login)->required();
    cmd->callback([&f, &rc, status = std::string(status)] {
      rc = Run(f, "user.update", f.login, [&f, &status](Security& s) -> Status {
        auto r = s.directory->UpdateUser(f.login, [&status](zi::User& u) {
          if (status == "unlock") {
            u.locked_until = 0;
          } else {
            u.status = status == "enable" ? zi::kStatusActive : zi::kStatusDisabled;
          }
          return Ok();
        });
        return AsStatus(r);
      });
    });
  }
  AddNamed(user, "delete", "Delete a user and revoke their tokens", "--login", f.login, f, rc,
           "user.delete", [&f](Security& s) { return s.directory->DeleteUser(f.login); });
  auto* grant = user.add_subcommand("grant", "Set a user's roles and tenant grants");
  grant->add_option("--login", f.login)->required();
  grant->add_option("--role", f.roles, "A role (repeatable; when given, replaces the roles)");
  grant->add_option("--tenant", f.tenants,
                    "TENANT:PATH:r|rw (repeatable; when given, replaces the grants)");
  grant->callback([&f, &rc] {
    rc = Run(f, "user.update", f.login, [&f](Security& s) -> Status {
      auto tenants = ParseTenants(f.tenants);
      if (!tenants) return Fail(tenants.error());
      return AsStatus(s.directory->UpdateUser(f.login, [&](zi::User& u) {
        if (!f.roles.empty()) u.roles = f.roles;
        if (!f.tenants.empty()) u.tenants = *tenants;
        return Ok();
      }));
    });
  });
}

void AddAccountCommands(CLI::App& admin, AdminFlags& f, int& rc) {
  auto* acc =
      admin.add_subcommand("account", "Service accounts (systems, devices)")->require_subcommand(1);
  auto* add = acc->add_subcommand("add", "Add a service account; prints its secret once");
  add->add_option("--client-id", f.client_id)->required();
  add->add_option("--name", f.name);
  add->add_option("--kind", f.kind, "service (default) or device");
  add->add_option("--department", f.department);
  add->add_option("--role", f.roles, "A role (repeatable)");
  add->add_option("--tenant", f.tenants, "TENANT:PATH:r|rw (repeatable)");
  add->callback([&f, &rc] {
    rc = Run(f, "account.create", f.client_id, [&f](Security& s) -> Status {
      auto tenants = ParseTenants(f.tenants);
      if (!tenants) return Fail(tenants.error());
      zi::ServiceAccount a{.client_id = f.client_id,
                           .name = f.name,
                           .department = f.department,
                           .kind = f.kind.empty() ? "service" : f.kind,
                           .roles = f.roles,
                           .tenants = *tenants};
      auto created = s.directory->CreateServiceAccount(a, NowMs());
      if (!created) return Fail(created.error());
      fmt::print("client_id={}\nclient_secret={}\n", f.client_id, created->secret);
      return Ok();
    });
  });
  AddNamed(*acc, "delete", "Delete an account and revoke its tokens", "--client-id", f.client_id, f,
           rc, "account.delete",
           [&f](Security& s) { return s.directory->DeleteServiceAccount(f.client_id); });
  AddNamed(*acc, "secret", "Replace the client secret; prints the new one", "--client-id",
           f.client_id, f, rc, "account.secret", [&f](Security& s) -> Status {
             auto rotated = s.directory->RotateSecret(f.client_id);
             if (!rotated) return Fail(rotated.error());
             fmt::print("client_id={}\nclient_secret={}\n", f.client_id, rotated->secret);
             return Ok();
           });
  acc->add_subcommand("list", "List service accounts")->callback([&f, &rc] {
    rc = Run(f, "", "", [](Security& s) {
      for (const auto& a : s.directory->ListServiceAccounts()) {
        Print(zi::ToJson(a, zi::View::kPublic));
      }
      return Ok();
    });
  });
}

void AddTokenCommands(CLI::App& admin, AdminFlags& f, int& rc) {
  auto* tok = admin.add_subcommand("token", "Tokens")->require_subcommand(1);
  auto* issue = tok->add_subcommand("issue", "Issue a token for a user or account; prints it");
  issue->add_option("--subject", f.subject, "Login or client id")->required();
  issue->add_option("--ttl", f.ttl, "Lifetime in seconds (default: the server's token TTL)");
  issue->add_flag("--api-key", f.api_key, "A non-expiring API key (unless --ttl)");
  issue->add_option("--role", f.roles, "Narrow to these roles (repeatable)");
  issue->add_option("--tenant", f.tenants, "Narrow to TENANT:PATH:r|rw (repeatable)");
  issue->callback([&f, &rc] {
    rc = Run(f, "token.issue", f.subject, [&f](Security& s) -> Status {
      auto tenants = ParseTenants(f.tenants);
      if (!tenants) return Fail(tenants.error());
      zi::TokenRequest request{.roles = f.roles, .tenants = *tenants, .api_key = f.api_key};
      if (f.ttl > 0) request.ttl = std::chrono::seconds(f.ttl);
      auto issued = s.directory->IssueToken(f.subject, request, NowMs());
      if (!issued) return Fail(issued.error());
      fmt::print("{}\n", issued->token);
      return Ok();
    });
  });
  auto* list = tok->add_subcommand("list", "List tokens (never their text)");
  list->add_option("--subject", f.subject);
  list->callback([&f, &rc] {
    rc = Run(f, "", "", [&f](Security& s) {
      for (const auto& t : s.directory->ListTokens(f.subject)) {
        Print(zi::ToJson(t, zi::View::kPublic));
      }
      return Ok();
    });
  });
  AddNamed(*tok, "revoke", "Revoke a token by id", "--id", f.id, f, rc, "token.revoke",
           [&f](Security& s) { return s.directory->RevokeToken(f.id); });
}

}  // namespace

void AddAdminCommands(CLI::App& app, AdminFlags& flags, int& exit_code) {
  auto* admin = app.add_subcommand("admin",
                                   "Identity administration on a data directory "
                                   "(offline: stop the server first)");
  admin->require_subcommand(1);
  admin->add_option("--data", flags.data, "Data directory (default ./var/data)");
  AddDepartmentCommands(*admin, flags, exit_code);
  AddUserCommands(*admin, flags, exit_code);
  AddAccountCommands(*admin, flags, exit_code);
  AddTokenCommands(*admin, flags, exit_code);
  admin->add_subcommand("roles", "Print the roles and their permissions")->callback([] {
    for (const auto& role : zi::Roles()) {
      std::string perms;
      for (auto p : role.permissions) perms += (perms.empty() ? "" : ", ") + std::string(p);
      fmt::print("{:<20} {:<16} {}\n", role.name, role.title_zh, perms);
    }
  });
}

}  // namespace zc::app
