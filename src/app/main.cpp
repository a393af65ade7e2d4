// The zhicheng binary: command-line parsing and dispatch to the commands
// (`serve`, `admin`, `audit verify`, `backup`, `restore`, `version`). The wiring of modules lives
// in serve.cpp.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

#include "app/admin_command.h"
#include "app/audit_command.h"
#include "app/backup.h"
#include "app/config.h"
#include "app/serve.h"

namespace {

struct ServeFlags {
  std::string data;
  std::string listen;
  std::string config_file;
  std::string log_level;
  std::string admin_token_file;
};

int RunServe(const ServeFlags& flags) {
  zc::app::Config config;
  if (!flags.config_file.empty()) {
    if (auto s = zc::app::LoadConfigFile(flags.config_file, config); !s) {
      fmt::print(stderr, "zhicheng: {}\n", s.error().message);
      return 2;
    }
  }
  if (!flags.data.empty()) config.data_dir = flags.data;
  if (!flags.log_level.empty()) config.log_level = flags.log_level;
  if (!flags.admin_token_file.empty()) config.admin_token_file = flags.admin_token_file;
  if (!flags.listen.empty()) {
    if (auto s = zc::app::ParseListen(flags.listen, config); !s) {
      fmt::print(stderr, "zhicheng: {}\n", s.error().message);
      return 2;
    }
  }
  return zc::app::Serve(config);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Zhicheng (智城): city operations platform"};
  app.require_subcommand(1);
  ServeFlags flags;
  auto* serve = app.add_subcommand("serve", "Run the platform server");
  serve->add_option("--data", flags.data, "Data directory (default ./var/data)");
  serve->add_option("--listen", flags.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  serve->add_option("--config", flags.config_file, "TOML configuration file")
      ->check(CLI::ExistingFile);
  serve->add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, off");
  serve
      ->add_option("--admin-token-file", flags.admin_token_file,
                   "First start only: this file's token becomes the admin's token")
      ->check(CLI::ExistingFile);
  auto* version = app.add_subcommand("version", "Print the version");
  int exit_code = 0;
  zc::app::AdminFlags admin_flags;
  zc::app::AddAdminCommands(app, admin_flags, exit_code);
  std::string audit_data = "./var/data", audit_archive, audit_before;
  auto* audit = app.add_subcommand("audit", "The audit log")->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Verify the audit log's and its archive files' hash chains and signatures");
  verify->add_option("--data", audit_data, "Data directory (default ./var/data)");
  verify->add_option("--archive", audit_archive, "Archive directory (default DATA/audit-archive)");
  const auto archive_dir = [&] {
    return audit_archive.empty() ? std::filesystem::path(audit_data) / "audit-archive"
                                 : std::filesystem::path(audit_archive);
  };
  verify->callback([&] { exit_code = zc::app::AuditVerifyCommand(audit_data, archive_dir()); });
  auto* archive = audit->add_subcommand(
      "archive", "Move the entries signed before a time into archive files (server stopped)");
  archive->add_option("--data", audit_data, "Data directory (default ./var/data)");
  archive->add_option("--before", audit_before, "ISO 8601 time, e.g. 2026-06-01")->required();
  archive->add_option("--archive", audit_archive, "Archive directory (default DATA/audit-archive)");
  archive->callback(
      [&] { exit_code = zc::app::AuditArchiveCommand(audit_data, audit_before, archive_dir()); });
  std::string backup_data = "./var/data", backup_to;
  auto* backup = app.add_subcommand(
      "backup", "Copy a data directory, also while the server runs, into a new directory");
  backup->add_option("--data", backup_data, "Data directory (default ./var/data)");
  backup->add_option("--to", backup_to, "The backup directory to create (absent or empty)")
      ->required();
  backup->callback([&] { exit_code = zc::app::BackupCommand(backup_data, backup_to); });
  std::string restore_from, restore_data;
  auto* restore = app.add_subcommand(
      "restore", "Check a backup and restore it into a new data directory (absent or empty)");
  restore->add_option("--from", restore_from, "The backup directory")->required();
  restore->add_option("--data", restore_data, "The data directory to create")->required();
  restore->callback([&] { exit_code = zc::app::RestoreCommand(restore_from, restore_data); });
  CLI11_PARSE(app, argc, argv);
  if (app.got_subcommand("admin") || app.got_subcommand("audit") || *backup || *restore) {
    return exit_code;
  }
  if (*version) {
    fmt::print("zhicheng {}\n", ZHICHENG_VERSION);
    return 0;
  }
  return RunServe(flags);
}
