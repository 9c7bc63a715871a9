// Tests of the test helper tests/testing/redis_server: a real redis-server
// that answers until stopped.
#include "tests/testing/redis_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "tests/testing/status_matchers.h"

namespace fivestar::testing {
namespace {

// A hiredis connection freed on scope exit.
struct RedisContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using RedisConnection = std::unique_ptr<redisContext, RedisContextDeleter>;

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

RedisConnection Connect(const RedisServer& server) {
  timeval timeout{2, 0};
  return RedisConnection(
      redisConnectWithTimeout(server.host().c_str(), server.port(), timeout));
}

template <typename... Args>
RedisReply Command(redisContext* context, const char* format, Args... args) {
  return RedisReply(
      static_cast<redisReply*>(redisCommand(context, format, args...)));
}

TEST(RedisServerTest, AnswersPing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                       RedisServer::Start());
  EXPECT_GT(server->port(), 0);
  RedisConnection connection = Connect(*server);
  ASSERT_NE(connection, nullptr);
  ASSERT_EQ(connection->err, 0) << connection->errstr;
  RedisReply reply = Command(connection.get(), "PING");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(reply->str, reply->len), "PONG");
}

TEST(RedisServerTest, StoresAndReturnsBinaryValues) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                       RedisServer::Start());
  RedisConnection connection = Connect(*server);
  ASSERT_NE(connection, nullptr);
  ASSERT_EQ(connection->err, 0) << connection->errstr;
  const std::string value("回车镇\0!", 11);
  RedisReply set = Command(connection.get(), "SET %s %b", "village:v1",
                           value.data(), value.size());
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(set->str, set->len), "OK");
  RedisReply get = Command(connection.get(), "GET %s", "village:v1");
  ASSERT_NE(get, nullptr);
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(get->str, get->len), value);
  RedisReply missing = Command(connection.get(), "GET %s", "village:v2");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->type, REDIS_REPLY_NIL);
}

TEST(RedisServerTest, TwoServersAreIndependent) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> first,
                       RedisServer::Start());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> second,
                       RedisServer::Start());
  EXPECT_NE(first->port(), second->port());
  RedisConnection a = Connect(*first);
  RedisConnection b = Connect(*second);
  ASSERT_TRUE(a != nullptr && a->err == 0);
  ASSERT_TRUE(b != nullptr && b->err == 0);
  RedisReply set = Command(a.get(), "SET %s %s", "k", "in-first");
  ASSERT_NE(set, nullptr);
  RedisReply get = Command(b.get(), "GET %s", "k");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->type, REDIS_REPLY_NIL);
}

TEST(RedisServerTest, StopEndsConnectionsAndRefusesNewOnes) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                       RedisServer::Start());
  RedisConnection before = Connect(*server);
  ASSERT_NE(before, nullptr);
  ASSERT_EQ(before->err, 0) << before->errstr;

  server->Stop();
  server->Stop();  // Later calls do nothing.

  // Stop() reaps the process, so its sockets are closed by now.
  RedisReply reply = Command(before.get(), "PING");
  EXPECT_EQ(reply, nullptr);
  EXPECT_NE(before->err, 0);
  RedisConnection after = Connect(*server);
  ASSERT_NE(after, nullptr);
  EXPECT_NE(after->err, 0);
}

TEST(PickFreePortTest, GivesALoopbackPortNumber) {
  ASSERT_OK_AND_ASSIGN(int port, PickFreePort());
  EXPECT_GT(port, 0);
  EXPECT_LT(port, 65536);
}

}  // namespace
}  // namespace fivestar::testing
