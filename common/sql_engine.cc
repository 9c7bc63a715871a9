#include "common/sql_engine.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fivestar {

SqlEngine EngineOf(absl::string_view database) {
  return absl::StartsWith(database, "postgresql://") ||
                 absl::StartsWith(database, "postgres://")
             ? SqlEngine::kPostgres
             : SqlEngine::kSqlite;
}

std::string JsonTextList(SqlEngine engine, int param) {
  if (engine == SqlEngine::kPostgres) {
    return absl::StrCat(
        "(SELECT value COLLATE \"C\" FROM json_array_elements_text(CAST(?",
        param, " AS json)) AS list(value))");
  }
  return absl::StrCat("(SELECT value FROM json_each(?", param, "))");
}

const char* RandomIdSql(SqlEngine engine) {
  // PostgreSQL: 80 bits of a hash of 122 random ones.
  return engine == SqlEngine::kPostgres
             ? "SELECT substr(md5(gen_random_uuid()::text), 1, 20)"
             : "SELECT lower(hex(randomblob(10)))";
}

std::string RedactedDatabase(absl::string_view database) {
  if (EngineOf(database) != SqlEngine::kPostgres) return std::string(database);
  const size_t scheme_end = database.find("://") + 3;
  absl::string_view rest = database.substr(scheme_end);
  // scheme://[user[:password]@]host[:port][/dbname][?param=value&...]
  const size_t query_start = rest.find('?');
  absl::string_view query = query_start == absl::string_view::npos
                                ? absl::string_view()
                                : rest.substr(query_start + 1);
  absl::string_view before_query = rest.substr(0, query_start);
  const size_t authority_end = before_query.find('/');
  absl::string_view authority = before_query.substr(0, authority_end);
  absl::string_view path = authority_end == absl::string_view::npos
                               ? absl::string_view()
                               : before_query.substr(authority_end);
  std::string out(database.substr(0, scheme_end));
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view user_info = authority.substr(0, at);
    const size_t colon = user_info.find(':');
    if (colon != absl::string_view::npos) {
      absl::StrAppend(&out, user_info.substr(0, colon), ":***");
    } else {
      absl::StrAppend(&out, user_info);
    }
    absl::StrAppend(&out, authority.substr(at));
  } else {
    absl::StrAppend(&out, authority);
  }
  absl::StrAppend(&out, path);
  if (query_start != absl::string_view::npos) {
    std::vector<std::string> params;
    for (absl::string_view param : absl::StrSplit(query, '&')) {
      if (absl::StartsWith(param, "password=")) {
        params.push_back("password=***");
      } else {
        params.emplace_back(param);
      }
    }
    absl::StrAppend(&out, "?", absl::StrJoin(params, "&"));
  }
  return out;
}

}  // namespace fivestar
