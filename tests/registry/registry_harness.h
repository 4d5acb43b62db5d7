// Test helpers for berth-registry as a process: start the real binary on loopback port 0 with
// its own root, restart it on the same root, and speak HTTP to it with libcurl.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/child_process.h"

namespace berth::tests {

struct HttpResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // of the final response
  std::string body;
  // First header named `name` (case-insensitive), "" when absent.
  std::string Header(const std::string& name) const;
  // Every value of header `name`.
  std::vector<std::string> Headers(const std::string& name) const;
};

// One HTTP request with libcurl. `headers` are "Name: value" lines. A non-empty `body` (or
// `send_body`) is sent with Content-Length. HEAD is sent without reading a body. For https
// URLs, `ca_file` is the only CA trusted ("" : the system's). Unavailable when the transfer
// fails (connection, TLS verification), with curl's message.
absl::StatusOr<HttpResult> Http(const std::string& method, const std::string& url,
                                const std::string& body = "",
                                const std::vector<std::string>& headers = {},
                                bool send_body = false, const std::string& ca_file = "");

class RegistryProcess {
 public:
  // Starts berth-registry with --root=`root`, loopback port 0 for the API and metrics, and
  // `extra_flags`; waits until it listens. Logs go to `log_dir`/registry.<n>.log.
  static absl::StatusOr<RegistryProcess> Start(const std::string& root, const std::string& log_dir,
                                               const std::vector<std::string>& extra_flags = {});

  RegistryProcess(RegistryProcess&&) = default;
  RegistryProcess& operator=(RegistryProcess&&) = default;

  // "http://127.0.0.1:<port>" ("https://..." when started with --tls_cert)
  std::string base() const { return (tls_ ? "https://" : "http://") + address_; }
  const std::string& address() const { return address_; }
  const std::string& metrics_address() const { return metrics_; }
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return process_->pid(); }
  // SIGTERM and wait; the exit status.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(20));

 private:
  RegistryProcess() = default;
  std::optional<berth::testing::ChildProcess> process_;
  std::string address_;
  std::string metrics_;
  std::string log_;
  bool tls_ = false;
};

// Runs berth-registry with `args` (e.g. {"garbage-collect", "--root=..."}) to completion.
absl::StatusOr<berth::testing::CommandResult> RunRegistryCommand(
    const std::vector<std::string>& args);

}  // namespace berth::tests
