// How the stores keep a versioned resource: its deterministic protobuf
// bytes in a `body` column (BLOB on SQLite, bytea on PostgreSQL; output-only
// fields cleared), beside columns `version`, `create_time_us` and
// `update_time_us`; the etag derives from version and update time. Shared
// by every service's store, on either engine: the readers take any
// statement with SqliteStatement's column getters (SqliteStatement,
// PgStatement) and any database with its Prepare.
#ifndef FIVESTAR_COMMON_VERSIONED_RESOURCE_H_
#define FIVESTAR_COMMON_VERSIONED_RESOURCE_H_

#include <google/protobuf/message.h>
#include <google/protobuf/util/time_util.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace fivestar {

// The message's bytes with deterministic map ordering, so equal messages
// give equal bytes (stores compare bodies to skip no-op writes).
std::string DeterministicBytes(const google::protobuf::Message& message);

// The etag of a resource at `version`, last updated at `update_time_us`.
std::string VersionEtag(int64_t version, int64_t update_time_us);

// Sets the output-only fields a store derives: create_time, update_time and
// the etag of `version`.
template <typename Resource>
void SetVersionFields(Resource* resource, int64_t version, int64_t create_us,
                      int64_t update_us) {
  using ::google::protobuf::util::TimeUtil;
  *resource->mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(create_us);
  *resource->mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(update_us);
  resource->set_etag(VersionEtag(version, update_us));
}

// Reads a resource from the columns (body, version, create_time_us,
// update_time_us) starting at `first`, filling create_time, update_time and
// etag.
template <typename Resource, typename Statement>
absl::StatusOr<Resource> ReadVersionedResource(const Statement& stmt,
                                               int first = 0) {
  Resource resource;
  if (!resource.ParseFromString(stmt.ColumnBlob(first))) {
    return absl::DataLossError("stored record does not parse");
  }
  SetVersionFields(&resource, stmt.ColumnInt64(first + 1),
                   stmt.ColumnInt64(first + 2), stmt.ColumnInt64(first + 3));
  return resource;
}

// Every remaining row of `stmt` read with ReadVersionedResource.
template <typename Resource, typename Statement>
absl::StatusOr<std::vector<Resource>> ReadVersionedResources(Statement& stmt) {
  std::vector<Resource> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Resource resource, ReadVersionedResource<Resource>(stmt));
    out.push_back(std::move(resource));
  }
  return out;
}

// The resource whose `key_column` is `id` in `table` (which has the
// columns ReadVersionedResource reads); NOT_FOUND "<kind> <id> not found".
template <typename Resource, typename Database>
absl::StatusOr<Resource> LoadVersionedResource(Database& db,
                                               absl::string_view table,
                                               absl::string_view key_column,
                                               absl::string_view kind,
                                               const std::string& id) {
  ASSIGN_OR_RETURN(auto stmt, db.Prepare(absl::StrCat(
                                  "SELECT body, version, create_time_us, "
                                  "update_time_us FROM ",
                                  table, " WHERE ", key_column, " = ?")));
  stmt.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  return ReadVersionedResource<Resource>(stmt);
}

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_VERSIONED_RESOURCE_H_
