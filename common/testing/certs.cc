#include "common/testing/certs.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/testing/child_process.h"

namespace berth::testing {

absl::Status RunOpenssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpensslCli};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> r = RunCommand(argv, absl::Seconds(60));
  if (!r.ok()) return r.status();
  if (!r->Succeeded()) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ", r->output));
  }
  return absl::OkStatus();
}

absl::Status MakeCaAndServerCert(const std::string& dir, const std::string& ca_name) {
  const std::string& d = dir;
  if (absl::Status s = RunOpenssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", d + "/ca.key",
                                   "-out", d + "/ca.crt", "-days", "1", "-subj", "/CN=" + ca_name});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = RunOpenssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                   "-nodes", "-keyout", d + "/server.key", "-out",
                                   d + "/server.csr", "-subj", "/CN=127.0.0.1"});
      !s.ok()) {
    return s;
  }
  {
    std::ofstream ext(d + "/ext.cnf");
    ext << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    if (!ext.flush()) return absl::InternalError(absl::StrCat("write ", d, "/ext.cnf"));
  }
  return RunOpenssl({"x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.crt", "-CAkey",
                     d + "/ca.key", "-CAcreateserial", "-CAserial", d + "/ca.srl", "-out",
                     d + "/server.crt", "-days", "1", "-extfile", d + "/ext.cnf"});
}

}  // namespace berth::testing
