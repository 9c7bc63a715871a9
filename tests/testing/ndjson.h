// Test data files: paths below the source tree and newline-delimited JSON of
// protobuf messages (the import format of data/huiche/).
#ifndef FIVESTAR_TESTS_TESTING_NDJSON_H_
#define FIVESTAR_TESTS_TESTING_NDJSON_H_

#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace fivestar::testing {

// A path below the source tree, e.g. "data/huiche/projects.ndjson".
std::string SourcePath(const std::string& relative);

// Parses newline-delimited JSON of `Message`s (blank lines skipped); aborts
// the test binary, naming the file and line, when a line does not parse.
template <typename Message>
std::vector<Message> ReadNdjson(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::vector<Message> messages;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    Message message;
    auto status = google::protobuf::util::JsonStringToMessage(line, &message);
    if (!status.ok()) {
      std::fprintf(stderr, "%s:%d: %s\n", path.c_str(), number,
                   status.ToString().c_str());
      std::abort();
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_NDJSON_H_
