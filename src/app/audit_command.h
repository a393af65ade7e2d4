// `zhicheng audit verify --data DIR`: proves that the audit log in DIR was not altered.
#pragma once

#include <filesystem>

namespace zc::app {

// Opens DIR/audit.db and the checkpoint key DIR/audit.key (never creating either) and runs
// identity::VerifyAudit. Prints the verdict on stdout and returns the exit code: 0 when the
// chain and every checkpoint check out, 1 when the log is broken (the first bad entry is
// named), 2 when the log or the key cannot be opened or read (the reason goes to stderr).
int AuditVerifyCommand(const std::filesystem::path& data_dir);

}  // namespace zc::app
