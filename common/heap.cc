#include "common/heap.h"

#include <cstdlib>  // Defines __GLIBC__ on glibc.

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fivestar {

void ReleaseFreeHeap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace fivestar
