#include "common/grpc/dial.h"

#include "common/grpc/address.h"
#include "common/status/status_macros.h"

namespace berth::grpc_util {

absl::StatusOr<std::shared_ptr<::grpc::Channel>> DialUnix(const std::string& address) {
  BERTH_ASSIGN_OR_RETURN(std::string path, ParseUnixAddress(address));
  ::grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // The peer is a local daemon that may restart (each berth daemon restarts on its own): retry
  // the socket every 100 ms up to 1 s apart instead of gRPC's network defaults (1 s growing to
  // 120 s), so a restarted peer is reachable again within a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return ::grpc::CreateCustomChannel(UnixTarget(path), ::grpc::InsecureChannelCredentials(),
                                     args);
}

}  // namespace berth::grpc_util
