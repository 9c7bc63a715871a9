// Tests of common/auth: the tokens file (and its watcher, which reloads
// it), token hashing, and the role and scope checks. Authenticate() needs a
// live call; rpc_test.cc covers it through a real in-process server.
#include "common/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tokens_file_watcher.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fivestar {
namespace {

using ::fivestar::testing::StatusIs;
using ::testing::IsNull;
using ::testing::NotNull;

// sha256("abc"), the FIPS 180-2 example.
constexpr char kAbcHash[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256HexTest, MatchesTheFipsVectorForAbc) {
  EXPECT_EQ(Sha256Hex("abc"), kAbcHash);
}

TEST(Sha256HexTest, HashesTheEmptyString) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role role :
       {Role::kViewer, Role::kReporter, Role::kOperator, Role::kAdmin}) {
    EXPECT_THAT(ParseRole(RoleName(role)),
                ::fivestar::testing::IsOkAndHolds(role));
  }
}

TEST(RoleTest, UnknownOrWrongCaseNameIsInvalid) {
  EXPECT_THAT(ParseRole("root"),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"root\""));
  EXPECT_THAT(ParseRole("Admin"),
              StatusIs(absl::StatusCode::kInvalidArgument, "\"Admin\""));
}

TEST(TokenTableTest, ParsesPrincipalsSkippingCommentsAndBlankLines) {
  const std::string text = absl::StrCat(
      "# tokens of the test deployment\n", "\n", "   \n",
      Sha256Hex("viewer-token"), " viewer 411323 county-viewer\n", "  ",
      Sha256Hex("operator-token"),
      "\toperator   411323-huiche huiche-office  # trailing comment\n",
      // Upper-case hex is accepted: the table matches hashes case-blind.
      absl::AsciiStrToUpper(Sha256Hex("admin-token")), " admin * root\n");

  absl::StatusOr<TokenTable> table = TokenTable::Parse(text);

  ASSERT_OK(table);
  EXPECT_EQ(table->size(), 3u);
  const Principal* viewer = table->Find("viewer-token");
  ASSERT_THAT(viewer, NotNull());
  EXPECT_EQ(viewer->name, "county-viewer");
  EXPECT_EQ(viewer->role, Role::kViewer);
  EXPECT_EQ(viewer->scope, "411323");
  EXPECT_FALSE(viewer->is_global());
  const Principal* op = table->Find("operator-token");
  ASSERT_THAT(op, NotNull());
  EXPECT_EQ(op->name, "huiche-office");
  EXPECT_EQ(op->role, Role::kOperator);
  EXPECT_EQ(op->scope, "411323-huiche");
  const Principal* admin = table->Find("admin-token");
  ASSERT_THAT(admin, NotNull());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_TRUE(admin->is_global());
}

TEST(TokenTableTest, FindsNothingForUnknownTokenOrForTheHashItself) {
  ASSERT_OK_AND_ASSIGN(TokenTable table, TokenTable::Parse(absl::StrCat(
                                             kAbcHash, " viewer * someone\n")));
  EXPECT_THAT(table.Find("abc"), NotNull());
  EXPECT_THAT(table.Find("abd"), IsNull());
  EXPECT_THAT(table.Find(""), IsNull());
  // Holding the file must not let one call with the hash as the token.
  EXPECT_THAT(table.Find(kAbcHash), IsNull());
}

TEST(TokenTableTest, EmptyTextGivesEmptyTable) {
  ASSERT_OK_AND_ASSIGN(TokenTable table, TokenTable::Parse(""));
  EXPECT_EQ(table.size(), 0u);
}

TEST(TokenTableTest, ParsesLastLineWithoutNewlineAndCrLfEndings) {
  ASSERT_OK_AND_ASSIGN(TokenTable table,
                       TokenTable::Parse(absl::StrCat(
                           "# c\r\n", Sha256Hex("a"), " viewer * a\r\n",
                           Sha256Hex("b"), " reporter * b")));
  EXPECT_EQ(table.size(), 2u);
  ASSERT_THAT(table.Find("a"), NotNull());
  EXPECT_EQ(table.Find("a")->name, "a");
  ASSERT_THAT(table.Find("b"), NotNull());
  EXPECT_EQ(table.Find("b")->role, Role::kReporter);
}

// One malformed tokens file and the error Parse must give for it.
struct MalformedCase {
  std::string test_name;
  std::string text;
  std::string message;
};

// Keeps ctest's listing short: the name, not the struct's bytes.
void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.test_name; }

class TokenTableMalformedTest : public ::testing::TestWithParam<MalformedCase> {
};

TEST_P(TokenTableMalformedTest, IsInvalidArgumentNamingTheLine) {
  EXPECT_THAT(TokenTable::Parse(GetParam().text),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message));
}

std::string GoodLine(absl::string_view token) {
  return absl::StrCat(Sha256Hex(token), " viewer * ", token, "\n");
}

INSTANTIATE_TEST_SUITE_P(
    AllMalformations, TokenTableMalformedTest,
    ::testing::Values(
        MalformedCase{"ThreeFields",
                      absl::StrCat("# header\n", GoodLine("a"), Sha256Hex("b"),
                                   " viewer *\n"),
                      "tokens file line 3: want \"<sha256-hex> <role> "
                      "<scope> <name>\""},
        MalformedCase{"FiveFields",
                      absl::StrCat(Sha256Hex("b"), " viewer * b extra\n"),
                      "tokens file line 1: want"},
        MalformedCase{
            "HashTooShort",
            absl::StrCat(GoodLine("a"), std::string(63, 'a'), " viewer * b\n"),
            "tokens file line 2: token hash must be 64 hex digits"},
        MalformedCase{"HashTooLong",
                      absl::StrCat(std::string(65, 'a'), " viewer * b\n"),
                      "tokens file line 1: token hash must be 64 hex digits"},
        MalformedCase{
            "HashNotHex",
            absl::StrCat("\n\n", std::string(63, 'a'), "g", " viewer * b\n"),
            "tokens file line 3: token hash must be 64 hex digits"},
        MalformedCase{"UnknownRole",
                      absl::StrCat(Sha256Hex("b"), " superuser * b\n"),
                      "tokens file line 1: role: must be one of viewer, "
                      "reporter, operator, admin; got \"superuser\""},
        MalformedCase{"DuplicateHash",
                      absl::StrCat(GoodLine("a"), GoodLine("b"), "# again\n",
                                   Sha256Hex("a"), " admin * other\n"),
                      "tokens file line 4: token hash appears twice"},
        MalformedCase{
            "DuplicateHashDifferingOnlyInCase",
            absl::StrCat(GoodLine("a"), absl::AsciiStrToUpper(Sha256Hex("a")),
                         " admin * other\n"),
            "tokens file line 2: token hash appears twice"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) {
      return info.param.test_name;
    });

TEST(TokenTableTest, LoadReadsAFile) {
  testing::TempDir dir;
  const std::string path = dir.File("tokens");
  {
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_THAT(file, NotNull());
    const std::string text = GoodLine("t");
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
  }
  ASSERT_OK_AND_ASSIGN(TokenTable table, TokenTable::Load(path));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_THAT(table.Find("t"), NotNull());
}

TEST(TokenTableTest, LoadOfMissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_THAT(TokenTable::Load(dir.File("absent")),
              StatusIs(absl::StatusCode::kNotFound, "cannot be read"));
}

TEST(TokenTableTest, LoadOfMalformedFileNamesPathAndLine) {
  testing::TempDir dir;
  const std::string path = dir.File("tokens");
  {
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_THAT(file, NotNull());
    std::fputs("# only a bad line\nnot-a-hash viewer * x\n", file);
    std::fclose(file);
  }
  EXPECT_THAT(TokenTable::Load(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(path, ": tokens file line 2: ")));
}

// Writes `text` to `path` with `mode`.
void WriteFile(const std::string& path, const std::string& text,
               mode_t mode = 0644) {
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_THAT(file, NotNull());
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

TEST(TokenTableTest, LoadRefusesAFileOthersMayWrite) {
  testing::TempDir dir;
  const std::string path = dir.File("tokens");
  WriteFile(path, GoodLine("t"), 0666);
  EXPECT_THAT(TokenTable::Load(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("tokens file ", path,
                                    ": others may write it (mode 0666); "
                                    "chmod o-w it")));
  ASSERT_EQ(chmod(path.c_str(), 0664), 0);  // The group may.
  EXPECT_OK(TokenTable::Load(path));
}

TEST(TokenTableTest, LoadRefusesAFileWithoutPrincipals) {
  testing::TempDir dir;
  const std::string path = dir.File("tokens");
  for (const char* text : {"", "\n\n", "# all commented out\n"}) {
    WriteFile(path, text);
    EXPECT_THAT(TokenTable::Load(path),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("tokens file ", path,
                                      ": lists no principal, so no call "
                                      "could be authenticated")))
        << text;
  }
}

// The watcher, on real files.
class TokensFileWatcherTest : public ::testing::Test {
 protected:
  TokensFileWatcherTest() : path_(dir_.File("tokens")) {
    WriteFile(path_, GoodLine("first"));
    absl::StatusOr<TokenTable> table = TokenTable::Load(path_);
    if (!table.ok()) std::abort();
    store_ = std::make_shared<TokenStore>(*std::move(table));
  }

  // Replaces the file as editors and Secret volumes do: a new file renamed
  // over the old one.
  void Replace(const std::string& text, mode_t mode = 0644) {
    const std::string next = dir_.File("tokens.next");
    WriteFile(next, text, mode);
    ASSERT_EQ(std::rename(next.c_str(), path_.c_str()), 0);
  }

  // Waits (up to 10 s) until `done` holds.
  template <typename Done>
  bool Eventually(Done done) {
    for (int i = 0; i < 1000; ++i) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return done();
  }

  testing::TempDir dir_;
  const std::string path_;
  std::shared_ptr<TokenStore> store_;
};

TEST_F(TokensFileWatcherTest, PutsANewVersionInForce) {
  TokensFileWatcher watcher(path_, store_, absl::Milliseconds(20));
  Replace(absl::StrCat(GoodLine("second"), GoodLine("third")));
  ASSERT_TRUE(Eventually([&] { return watcher.reloads() == 1; }));
  EXPECT_EQ(store_->Get()->size(), 2u);
  EXPECT_THAT(store_->Get()->Find("first"), IsNull());
  EXPECT_THAT(store_->Get()->Find("third"), NotNull());
  EXPECT_EQ(watcher.refusals(), 0);
}

TEST_F(TokensFileWatcherTest, RefusesAnInvalidVersionAndKeepsTheTokens) {
  TokensFileWatcher watcher(path_, store_, absl::Milliseconds(20));
  Replace(absl::StrCat(GoodLine("second"), "not-a-hash admin * mallory\n"));
  ASSERT_TRUE(Eventually([&] { return watcher.refusals() == 1; }));
  Replace(GoodLine("second"), 0666);
  ASSERT_TRUE(Eventually([&] { return watcher.refusals() == 2; }));
  Replace("");
  ASSERT_TRUE(Eventually([&] { return watcher.refusals() == 3; }));
  EXPECT_EQ(watcher.reloads(), 0);
  EXPECT_EQ(store_->Get()->size(), 1u);
  EXPECT_THAT(store_->Get()->Find("first"), NotNull());
  // A valid version after all that is taken.
  Replace(GoodLine("fourth"));
  ASSERT_TRUE(Eventually([&] { return watcher.reloads() == 1; }));
  EXPECT_THAT(store_->Get()->Find("fourth"), NotNull());
}

TEST_F(TokensFileWatcherTest, ReloadNowReadsTheFileAndSaysWhyItRefuses) {
  TokensFileWatcher watcher(path_, store_, absl::ZeroDuration());
  Replace(GoodLine("second"));
  ASSERT_OK(watcher.ReloadNow());
  EXPECT_THAT(store_->Get()->Find("second"), NotNull());
  Replace("bad line\n");
  EXPECT_THAT(watcher.ReloadNow(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(path_, ": tokens file line 1: ")));
  EXPECT_THAT(store_->Get()->Find("second"), NotNull());
  EXPECT_EQ(watcher.reloads(), 1);
  EXPECT_EQ(watcher.refusals(), 1);
}

Principal MakePrincipal(Role role, std::string scope) {
  return Principal{"alice", role, std::move(scope)};
}

TEST(AuthorizeRoleTest, RoleAtOrAboveRequiredIsAllowed) {
  EXPECT_OK(AuthorizeRole(MakePrincipal(Role::kOperator, "r"), Role::kOperator,
                          "edit villages"));
  EXPECT_OK(AuthorizeRole(MakePrincipal(Role::kAdmin, "r"), Role::kViewer,
                          "read villages"));
}

TEST(AuthorizeRoleTest, RoleBelowRequiredIsDeniedNamingWhoAndWhat) {
  EXPECT_THAT(
      AuthorizeRole(MakePrincipal(Role::kReporter, "r"), Role::kOperator,
                    "edit villages"),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "alice (reporter) may not edit villages: needs role operator"));
}

TEST(AuthorizeRoleTest, EveryRoleIsOrderedAboveTheOneBefore) {
  const std::vector<Role> roles = {Role::kViewer, Role::kReporter,
                                   Role::kOperator, Role::kAdmin};
  for (size_t held = 0; held < roles.size(); ++held) {
    for (size_t needed = 0; needed < roles.size(); ++needed) {
      const absl::Status status =
          AuthorizeRole(MakePrincipal(roles[held], "*"), roles[needed], "x");
      SCOPED_TRACE(absl::StrCat(RoleName(roles[held]), " needs ",
                                RoleName(roles[needed])));
      EXPECT_EQ(status.code(), held >= needed
                                   ? absl::StatusCode::kOk
                                   : absl::StatusCode::kPermissionDenied);
    }
  }
}

// A village and its ancestry: village, township, county.
const std::vector<std::string> kChain = {"411323-huiche-v01", "411323-huiche",
                                         "411323"};

TEST(AuthorizeTest, ScopeAnywhereInTheChainIsAllowed) {
  for (const std::string& scope : kChain) {
    SCOPED_TRACE(scope);
    EXPECT_OK(Authorize(MakePrincipal(Role::kReporter, scope), Role::kReporter,
                        kChain, "report progress"));
  }
}

TEST(AuthorizeTest, ScopeOutsideTheChainIsDenied) {
  EXPECT_THAT(Authorize(MakePrincipal(Role::kAdmin, "411324"), Role::kViewer,
                        kChain, "read village"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "alice may not read village: outside its scope 411324"));
}

TEST(AuthorizeTest, ScopeIsMatchedExactlyNotByPrefix) {
  EXPECT_THAT(Authorize(MakePrincipal(Role::kAdmin, "41132"), Role::kViewer,
                        kChain, "read village"),
              StatusIs(absl::StatusCode::kPermissionDenied, "outside"));
}

TEST(AuthorizeTest, GlobalScopeCoversAnyChainIncludingAnEmptyOne) {
  EXPECT_OK(Authorize(MakePrincipal(Role::kViewer, std::string(kGlobalScope)),
                      Role::kViewer, kChain, "read village"));
  EXPECT_OK(Authorize(MakePrincipal(Role::kViewer, std::string(kGlobalScope)),
                      Role::kViewer, {}, "read everything"));
}

TEST(AuthorizeTest, RoleIsCheckedBeforeScope) {
  EXPECT_THAT(
      Authorize(MakePrincipal(Role::kViewer, "411323"), Role::kOperator, kChain,
                "edit village"),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role operator"));
  EXPECT_THAT(
      Authorize(MakePrincipal(Role::kViewer, std::string(kGlobalScope)),
                Role::kAdmin, kChain, "edit rubric"),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role admin"));
}

// The ancestry of a township scope: township, county, city.
const std::vector<std::string> kTownshipScope = {"411323-huiche", "411323",
                                                 "411300"};

TEST(AuthorizeListFilterTest, FilterWithinTheScopeIsAllowed) {
  const Principal principal = MakePrincipal(Role::kViewer, "411323-huiche");
  EXPECT_OK(AuthorizeListFilter(
      principal, Role::kViewer,
      {"411323-huiche-north", "411323-huiche", "411323", "411300"},
      kTownshipScope, "list villages"));
  EXPECT_OK(AuthorizeListFilter(principal, Role::kViewer,
                                {"411323-huiche", "411323", "411300"},
                                kTownshipScope, "list villages"));
  EXPECT_FALSE(FilterAboveScope(principal, "411323-huiche", kTownshipScope));
}

TEST(AuthorizeListFilterTest, FilterAboveTheScopeIsAllowed) {
  const Principal principal = MakePrincipal(Role::kViewer, "411323-huiche");
  EXPECT_OK(AuthorizeListFilter(principal, Role::kViewer, {"411323", "411300"},
                                kTownshipScope, "list villages"));
  EXPECT_TRUE(FilterAboveScope(principal, "411323", kTownshipScope));
  EXPECT_TRUE(FilterAboveScope(principal, "411300", kTownshipScope));
}

TEST(AuthorizeListFilterTest, FilterWhollyOutsideIsTheOutOfScopeDenial) {
  const Principal principal = MakePrincipal(Role::kViewer, "411323-huiche");
  const std::vector<std::string> sibling = {"411323-other", "411323", "411300"};
  EXPECT_EQ(AuthorizeListFilter(principal, Role::kViewer, sibling,
                                kTownshipScope, "list villages"),
            OutsideScopeError(principal, "list villages"));
  EXPECT_FALSE(FilterAboveScope(principal, "411323-other", kTownshipScope));
}

TEST(AuthorizeListFilterTest, RoleIsCheckedAboveTheScopeToo) {
  const Principal principal = MakePrincipal(Role::kViewer, "411323-huiche");
  EXPECT_THAT(
      AuthorizeListFilter(principal, Role::kOperator, {"411323", "411300"},
                          kTownshipScope, "evaluate region"),
      StatusIs(absl::StatusCode::kPermissionDenied, "needs role operator"));
}

TEST(AuthorizeListFilterTest, GlobalPrincipalHasNothingAbove) {
  const Principal principal =
      MakePrincipal(Role::kViewer, std::string(kGlobalScope));
  EXPECT_OK(AuthorizeListFilter(principal, Role::kViewer, {"411323-other"}, {},
                                "list villages"));
  EXPECT_FALSE(FilterAboveScope(principal, "411323", kTownshipScope));
}

TEST(OutsideScopeErrorTest, IsWhatAuthorizeGivesOutsideTheScope) {
  const Principal principal = MakePrincipal(Role::kAdmin, "411324");
  const absl::Status denied =
      Authorize(principal, Role::kViewer, kChain, "read village x");
  EXPECT_EQ(OutsideScopeError(principal, "read village x"), denied);
  EXPECT_THAT(denied, StatusIs(absl::StatusCode::kPermissionDenied,
                               "alice may not read village x: outside its "
                               "scope 411324"));
}

TEST(ConcealAbsenceTest, NotFoundForAScopedPrincipalIsTheOutOfScopeDenial) {
  const Principal principal = MakePrincipal(Role::kOperator, "411324");
  const absl::Status absent = ConcealAbsence(
      principal, Role::kViewer, absl::NotFoundError("village v9 not found"),
      "read village v9");
  // Exactly what an existing village outside the scope answers.
  EXPECT_EQ(absent,
            Authorize(principal, Role::kViewer, kChain, "read village v9"));
  EXPECT_THAT(absent, StatusIs(absl::StatusCode::kPermissionDenied,
                               "alice may not read village v9: outside its "
                               "scope 411324"));
  EXPECT_THAT(absent.message(), ::testing::Not(::testing::HasSubstr("found")));
}

TEST(ConcealAbsenceTest, RoleFallingShortIsRefusedAsAuthorizeWould) {
  const Principal principal = MakePrincipal(Role::kViewer, "411324");
  const absl::Status absent =
      ConcealAbsence(principal, Role::kOperator,
                     absl::NotFoundError("no such village"), "edit village");
  EXPECT_EQ(absent,
            Authorize(principal, Role::kOperator, kChain, "edit village"));
  EXPECT_THAT(absent, StatusIs(absl::StatusCode::kPermissionDenied,
                               "alice (viewer) may not edit village: needs "
                               "role operator"));
}

TEST(ConcealAbsenceTest, VillageScopedPrincipalIsConcealedFromToo) {
  EXPECT_THAT(
      ConcealAbsence(MakePrincipal(Role::kReporter, "411323-huiche-v01"),
                     Role::kReporter, absl::NotFoundError("gone"),
                     "report progress"),
      StatusIs(absl::StatusCode::kPermissionDenied,
               "alice may not report progress: outside its scope "
               "411323-huiche-v01"));
}

TEST(ConcealAbsenceTest, GlobalPrincipalKeepsNotFound) {
  const absl::Status not_found = absl::NotFoundError("village v9 not found");
  EXPECT_EQ(
      ConcealAbsence(MakePrincipal(Role::kViewer, std::string(kGlobalScope)),
                     Role::kViewer, not_found, "read village v9"),
      not_found);
}

TEST(ConcealAbsenceTest, OtherStatusesPassThrough) {
  const Principal principal = MakePrincipal(Role::kViewer, "411324");
  EXPECT_OK(ConcealAbsence(principal, Role::kAdmin, absl::OkStatus(), "x"));
  const absl::Status unavailable = absl::UnavailableError("registry down");
  EXPECT_EQ(ConcealAbsence(principal, Role::kViewer, unavailable, "x"),
            unavailable);
  const absl::Status invalid = absl::InvalidArgumentError("id: malformed");
  EXPECT_EQ(ConcealAbsence(principal, Role::kViewer, invalid, "x"), invalid);
}

TEST(AuthenticatorTest, EnabledWithTokenTable) {
  ASSERT_OK_AND_ASSIGN(TokenTable table, TokenTable::Parse(GoodLine("t")));
  Authenticator authenticator(std::move(table));
  EXPECT_TRUE(authenticator.enabled());
}

TEST(AuthenticatorTest, DisabledIsNotEnabled) {
  EXPECT_FALSE(Authenticator::Disabled().enabled());
}

}  // namespace
}  // namespace fivestar
