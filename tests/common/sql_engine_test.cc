// Which engine a --database value names, and how it is logged.
#include "common/sql_engine.h"

#include <gtest/gtest.h>

namespace fivestar {
namespace {

TEST(EngineOfTest, PostgresUrisAndEverythingElse) {
  EXPECT_EQ(EngineOf("postgresql://db.example:5432/registry"),
            SqlEngine::kPostgres);
  EXPECT_EQ(EngineOf("postgres://u@h/d"), SqlEngine::kPostgres);
  EXPECT_EQ(EngineOf("registry.db"), SqlEngine::kSqlite);
  EXPECT_EQ(EngineOf("/var/lib/fivestar/postgresql.db"), SqlEngine::kSqlite);
  EXPECT_EQ(EngineOf(""), SqlEngine::kSqlite);
}

TEST(RedactedDatabaseTest, HidesPasswordsOnly) {
  EXPECT_EQ(RedactedDatabase("/data/registry.db"), "/data/registry.db");
  EXPECT_EQ(RedactedDatabase("postgresql://fivestar@db:5432/registry"),
            "postgresql://fivestar@db:5432/registry");
  EXPECT_EQ(RedactedDatabase("postgresql://fivestar:s3cr:et@db:5432/registry"),
            "postgresql://fivestar:***@db:5432/registry");
  EXPECT_EQ(RedactedDatabase("postgres://a:b@h1,h2/d?sslmode=require&"
                             "password=x&application_name=p"),
            "postgres://a:***@h1,h2/d?sslmode=require&password=***&"
            "application_name=p");
  EXPECT_EQ(RedactedDatabase("postgresql://h?password=p@ss"),
            "postgresql://h?password=***");
  EXPECT_EQ(RedactedDatabase("postgresql://"), "postgresql://");
}

}  // namespace
}  // namespace fivestar
