// berth's release version, shared by every binary so client and server versions compare.
#pragma once

namespace berth {

inline constexpr char kVersion[] = "0.1.0";
// Highest API version the daemons serve (the proto package suffix).
inline constexpr char kApiVersion[] = "v1";

}  // namespace berth
