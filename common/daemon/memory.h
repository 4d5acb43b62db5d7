// Heap settings for the daemons that stream big buffers (berthd pushing and pulling layers,
// berth-containerd serving content): glibc's defaults hand every ~1 MiB buffer back to the
// kernel when it is freed (a dynamic mmap threshold, then a trim threshold twice that), so a
// push of 200 MB faulted in and zeroed ~200 MB of fresh pages per process: a tenth of berthd's
// CPU for the push. With a fixed mmap threshold above the buffer size and a trim threshold of
// a few buffers, freed buffers are reused instead. What that keeps is bounded by the arena
// count, held to the CPU count (glibc allows 8 per CPU, each keeping its own free top: 30 MB
// more per daemon after a push); TrimSoon() returns the main arena's share after a burst.
// Measured on a 212 MB push: berthd + berth-containerd CPU 0.57 -> 0.50 s, RSS afterwards no
// higher than with the defaults.
#pragma once

#include <cstddef>

namespace berth::daemon {

// Sets the thresholds and the arena limit above. Call once, early in main(), before threads
// start.
void TuneMallocForStreaming();

// Freed memory glibc may keep at the top of an arena (M_TRIM_THRESHOLD): a burst that moved
// less than this leaves nothing a trim would give back.
inline constexpr size_t kTrimThresholdBytes = 8 << 20;

// Asks for malloc_trim(0) once nothing has called TrimSoon() for about a second (the end of
// a push, a pull, a content stream of kTrimThresholdBytes or more). Cheap; safe from any
// thread.
void TrimSoon();

}  // namespace berth::daemon
