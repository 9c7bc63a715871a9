// The size rules every import RPC shares. No gRPC here: the services'
// logic layers use it.
#ifndef FIVESTAR_COMMON_IMPORT_LIMITS_H_
#define FIVESTAR_COMMON_IMPORT_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace fivestar {

// Most records in one chunk of any import.
inline constexpr int kMaxImportChunkRecords = 10'000;

// The size checks every import makes as a chunk of `chunk_records` arrives
// after `received` records: INVALID_ARGUMENT for a chunk above
// kMaxImportChunkRecords, RESOURCE_EXHAUSTED once the import would hold more
// than `max_records` (each service's --max_import_records), so that no
// import can grow a server's memory (or, for an import staged on disk, its
// disk and the time it holds the writer) without bound. Checked as each
// chunk arrives, before the chunk is kept.
inline absl::Status CheckImportSize(int64_t received, int chunk_records,
                                    int64_t max_records) {
  if (chunk_records > kMaxImportChunkRecords) {
    return FieldError("records",
                      absl::StrCat("at most ", kMaxImportChunkRecords,
                                   " per chunk, got ", chunk_records));
  }
  if (received + chunk_records > max_records) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "records: at most ", max_records,
        " in one import (the server's --max_import_records); split the data "
        "into several imports"));
  }
  return absl::OkStatus();
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_IMPORT_LIMITS_H_
