// Splitting the records of an import test into the chunks of a
// client-streaming Import call. Header-only.
#ifndef FIVESTAR_TESTS_TESTING_IMPORT_CHUNKS_H_
#define FIVESTAR_TESTS_TESTING_IMPORT_CHUNKS_H_

#include <cstddef>
#include <vector>

namespace fivestar::testing {

// An import request (any message with a repeated `records` field of
// `Record`) holding records[begin, end), cut short at the end of `records`.
template <typename Request, typename Record>
Request ImportChunk(const std::vector<Record>& records, size_t begin,
                    size_t end) {
  Request chunk;
  for (size_t i = begin; i < end && i < records.size(); ++i) {
    *chunk.add_records() = records[i];
  }
  return chunk;
}

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_IMPORT_CHUNKS_H_
