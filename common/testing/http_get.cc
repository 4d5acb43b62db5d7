#include "common/testing/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/child_process.h"
#include "common/testing/temp_dir.h"

namespace berth::testing {

absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port, const std::string& path,
                                     absl::Duration timeout) {
  std::vector<std::string> hp = absl::StrSplit(host_port, absl::MaxSplits(':', 1));
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", host_port));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, hp[0].c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad IPv4 address ", hp[0]));
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", host_port, ": ", strerror(err)));
  }
  const std::string req =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return absl::UnavailableError("short write");
  }
  std::string raw;
  char buf[16384];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, n);
  close(fd);
  size_t split = raw.find("\r\n\r\n");
  if (split == std::string::npos) return absl::DataLossError("incomplete HTTP response");
  HttpResponse r;
  r.headers = raw.substr(0, split);
  r.body = raw.substr(split + 4);
  std::vector<std::string> status_line = absl::StrSplit(r.headers, ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) {
    return absl::DataLossError("bad status line");
  }
  return r;
}

absl::StatusOr<std::string> PromtoolCheckMetrics(const std::string& exposition) {
  auto dir = TempDir::Create();
  if (!dir.ok()) return dir.status();
  const std::string file = dir->Sub("metrics.txt");
  std::ofstream(file) << exposition;
  auto r = RunCommand({"/bin/sh", "-c", absl::StrCat("promtool check metrics < ", file)});
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) {
    return absl::InvalidArgumentError(absl::StrCat("promtool rejected metrics:\n", r->output));
  }
  return r->output;
}

}  // namespace berth::testing
