#include "common/init/init.h"

#include <signal.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, log_level, "info",
          "log verbosity: trace, debug, info, warning, error, or a verbose level number");

namespace berth {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (a[0] != '-' || a[1] != '-') continue;
    if (a[2] == '\0') break;  // "--" ends the flags
    for (char* p = a + 2; *p != '\0' && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

bool ApplyLogLevel(absl::string_view level) {
  const std::string l = absl::AsciiStrToLower(level);
  int verbose = 0;
  int min_level = google::GLOG_INFO;
  if (l == "trace") {
    verbose = 2;
  } else if (l == "debug") {
    verbose = 1;
  } else if (l == "info") {
  } else if (l == "warning" || l == "warn") {
    min_level = google::GLOG_WARNING;
  } else if (l == "error") {
    min_level = google::GLOG_ERROR;
  } else if (!absl::SimpleAtoi(l, &verbose) || verbose < 0) {
    return false;
  }
  FLAGS_v = verbose;
  FLAGS_minloglevel = min_level;
  return true;
}

std::vector<char*> InitProcess(int argc, char** argv, absl::string_view usage,
                               const InitOptions& options) {
  if (options.daemon) {
    // Before any thread exists, so every thread inherits the mask and only sigwait() sees them.
    sigset_t set = TerminationSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);
  NormalizeFlagNames(argc, argv);
  absl::SetProgramUsageMessage(usage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (!ApplyLogLevel(absl::GetFlag(FLAGS_log_level))) {
    LOG(ERROR) << "invalid --log_level=" << absl::GetFlag(FLAGS_log_level)
               << " (want trace, debug, info, warning, error or a number)";
    exit(2);
  }
  return args;
}

int WaitForTerminationSignal() {
  sigset_t set = TerminationSignals();
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      LOG(INFO) << "SIGHUP ignored: configuration reload is not supported yet";
      continue;
    }
    LOG(INFO) << "shutting down signal=" << strsignal(sig);
    return sig;
  }
}

}  // namespace berth
