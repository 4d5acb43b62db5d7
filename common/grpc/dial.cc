#include "common/grpc/dial.h"

#include "common/grpc/address.h"
#include "common/status/status_macros.h"

namespace berth::grpc_util {

absl::StatusOr<std::shared_ptr<::grpc::Channel>> DialUnix(const std::string& address) {
  BERTH_ASSIGN_OR_RETURN(std::string path, ParseUnixAddress(address));
  ::grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return ::grpc::CreateCustomChannel(UnixTarget(path), ::grpc::InsecureChannelCredentials(),
                                     args);
}

}  // namespace berth::grpc_util
