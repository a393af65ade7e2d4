// The zhicheng binary: command-line parsing and dispatch to the commands
// (`serve`, `version`). The wiring of modules lives in serve.cpp.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

#include "app/config.h"
#include "app/serve.h"

namespace {

struct ServeFlags {
  std::string data;
  std::string listen;
  std::string config_file;
  std::string log_level;
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
  auto* version = app.add_subcommand("version", "Print the version");
  CLI11_PARSE(app, argc, argv);
  if (*version) {
    fmt::print("zhicheng {}\n", ZHICHENG_VERSION);
    return 0;
  }
  return RunServe(flags);
}
