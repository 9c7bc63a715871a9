// Paging of List RPCs the way every fivestar service does it (AIP-158): the
// page size rules, page tokens bound to the request's filters, and fetching
// one row more than the page shows to learn whether another page follows.
// Header-only.
#ifndef FIVESTAR_COMMON_PAGING_H_
#define FIVESTAR_COMMON_PAGING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "common/validation.h"

namespace fivestar {

// The page size of a List request that leaves it unset, and the largest one
// it may ask for.
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// One page of a List request. Made from the request's page_size first, so
// that a bad size is reported before anything else is looked up; the
// request's page_token is read with Resume() once its filters are known.
class Pager {
 public:
  // The page of a request asking for `page_size` rows: 0 means
  // `default_size`; anything outside 0..max is INVALID_ARGUMENT naming
  // "page_size" (see EffectivePageSize).
  static absl::StatusOr<Pager> ForPageSize(int page_size,
                                           int default_size = kDefaultPageSize,
                                           int max = kMaxPageSize) {
    ASSIGN_OR_RETURN(int size, EffectivePageSize(page_size, default_size, max));
    return Pager(size);
  }

  // Rows the page shows at most.
  int size() const { return size_; }

  // Rows to fetch: one more than the page shows, so that Trim() can tell
  // whether another page follows.
  int fetch_limit() const { return size_ + 1; }

  // The position after which this page starts ("" for the first page),
  // decoded from the request's `page_token`, which must have been issued for
  // the same `filters` (see DecodePageToken for the errors). Remembers
  // `filters` for the next page's token.
  absl::StatusOr<std::string> Resume(absl::string_view page_token,
                                     std::string filters) {
    filters_ = std::move(filters);
    return DecodePageToken(page_token, filters_);
  }

  // Cuts `rows`, fetched with fetch_limit(), down to the page and returns
  // the next page's token: made from `position(last row kept)` when rows
  // were left over, "" when this is the last page. Call after Resume().
  template <typename Row, typename Position>
  std::string Trim(std::vector<Row>& rows, Position position) const {
    if (static_cast<int>(rows.size()) <= size_) return std::string();
    rows.resize(size_);
    return EncodePageToken(filters_, position(rows.back()));
  }

 private:
  explicit Pager(int size) : size_(size) {}

  int size_;
  std::string filters_;
};

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_PAGING_H_
