// `zhicheng admin ...`: the admin API's operations on a data directory, offline (the
// server must not be running: the directory is locked while it runs). Each change is
// audited with the actor "cli:<unix user>".
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace zc::app {

// Flags of the admin commands (CLI11 binds options to these fields).
struct AdminFlags {
  std::string data = "./var/data";
  std::string code, name, parent, kind, login, department, client_id, subject, id;
  std::vector<std::string> roles, tenants;
  unsigned ttl = 0;
  bool api_key = false;
  bool password_stdin = false;
};

// Adds the `admin` subcommand tree to `app`, bound to `flags` (which must outlive the
// parse); the chosen command runs from its callback and stores its exit code in
// `exit_code`.
void AddAdminCommands(CLI::App& app, AdminFlags& flags, int& exit_code);

}  // namespace zc::app
