// A private temporary directory, removed with everything in it on
// destruction.
#ifndef FIVESTAR_TESTS_TESTING_TEMP_DIR_H_
#define FIVESTAR_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace fivestar::testing {

class TempDir {
 public:
  // Under $TMPDIR (or /tmp).
  TempDir();
  // Under `base`.
  explicit TempDir(const std::string& base);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_TEMP_DIR_H_
