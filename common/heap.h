// Handing freed heap memory back to the operating system.
#ifndef FIVESTAR_COMMON_HEAP_H_
#define FIVESTAR_COMMON_HEAP_H_

namespace fivestar {

// Returns the free pages of every malloc arena to the system. glibc keeps
// what a burst of work freed (each thread allocates from an arena of its
// own, and a free page below a live block is never given back by itself),
// so after a long load a service's resident memory stays at the burst's
// high-water mark plus the holes between survivors. Call it after such a
// burst (a region's evaluation, an import), not on a hot path: it walks
// every arena under its lock. A no-op where the C library has no
// malloc_trim.
void ReleaseFreeHeap();

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_HEAP_H_
