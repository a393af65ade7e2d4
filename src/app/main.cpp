// The zhicheng binary: command-line parsing and dispatch to the commands
// (`serve`, `admin`, `audit verify`, `backup`, `restore`, `version`). The wiring of modules lives
// in serve.cpp.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

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

struct AuditFlags {
  std::string data = "./var/data";
  std::string archive;
  std::string before;
  std::filesystem::path ArchiveDir() const {
    return archive.empty() ? std::filesystem::path(data) / "audit-archive"
                           : std::filesystem::path(archive);
  }
};

void AddAuditCommands(CLI::App& app, AuditFlags& flags, int& exit_code) {
  auto* audit = app.add_subcommand("audit", "The audit log")->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Verify the audit log's and its archive files' hash chains and signatures");
  verify->add_option("--data", flags.data, "Data directory (default ./var/data)");
  verify->add_option("--archive", flags.archive, "Archive directory (default DATA/audit-archive)");
  verify->callback(
      [&] { exit_code = zc::app::AuditVerifyCommand(flags.data, flags.ArchiveDir()); });
  auto* archive = audit->add_subcommand(
      "archive", "Move the entries signed before a time into archive files (server stopped)");
  archive->add_option("--data", flags.data, "Data directory (default ./var/data)");
  archive->add_option("--before", flags.before, "ISO 8601 time, e.g. 2026-06-01")->required();
  archive->add_option("--archive", flags.archive, "Archive directory (default DATA/audit-archive)");
  archive->callback([&] {
    exit_code = zc::app::AuditArchiveCommand(flags.data, flags.before, flags.ArchiveDir());
  });
}

struct BackupFlags {
  std::string data = "./var/data";
  std::string to;
};

struct RestoreFlags {
  std::string from;
  std::string data;
};

CLI::App* AddBackupCommand(CLI::App& app, BackupFlags& flags, int& exit_code) {
  auto* backup = app.add_subcommand(
      "backup", "Copy a data directory, also while the server runs, into a new directory");
  backup->add_option("--data", flags.data, "Data directory (default ./var/data)");
  backup->add_option("--to", flags.to, "The backup directory to create (absent or empty)")
      ->required();
  backup->callback([&] { exit_code = zc::app::BackupCommand(flags.data, flags.to); });
  return backup;
}

CLI::App* AddRestoreCommand(CLI::App& app, RestoreFlags& flags, int& exit_code) {
  auto* restore = app.add_subcommand(
      "restore", "Check a backup and restore it into a new data directory (absent or empty)");
  restore->add_option("--from", flags.from, "The backup directory")->required();
  restore->add_option("--data", flags.data, "The data directory to create")->required();
  restore->callback([&] { exit_code = zc::app::RestoreCommand(flags.from, flags.data); });
  return restore;
}

}  // namespace

int main(int argc, char** argv) {
  // Every file and directory this process creates is its user's alone (0600/0700), as
  // PostgreSQL's are: the databases hold the city's data, password hashes and the audit log,
  // and a backup holds all of them. SQLite gives a database's -wal and -shm its own mode.
  ::umask(0077);
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
  AuditFlags audit_flags;
  AddAuditCommands(app, audit_flags, exit_code);
  BackupFlags backup_flags;
  auto* backup = AddBackupCommand(app, backup_flags, exit_code);
  RestoreFlags restore_flags;
  auto* restore = AddRestoreCommand(app, restore_flags, exit_code);
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
