#include "services/scoring/rubric_book.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/paging.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "services/scoring/default_rubric.h"

namespace fivestar::scoring {
namespace {

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;

absl::Status RequireGlobalAdmin(const Principal& principal,
                                absl::string_view what) {
  if (principal.role < Role::kAdmin || !principal.is_global()) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", principal.name, " may not ", what,
                     ": needs the admin role with global scope"));
  }
  return absl::OkStatus();
}

absl::Status RequireViewer(const Principal& principal, absl::string_view what) {
  if (principal.role < Role::kViewer) {
    return absl::PermissionDeniedError(
        absl::StrCat("principal ", principal.name, " may not ", what));
  }
  return absl::OkStatus();
}

}  // namespace

RubricBook::RubricBook(ScoringStore* store, InputsSource* inputs,
                       const Clock* clock, bool shared)
    : store_(store), inputs_(inputs), clock_(clock), shared_(shared) {}

absl::Status RubricBook::Seed(const std::string& path) {
  const std::string source = path.empty() ? kDefaultRubricSource : path;
  ASSIGN_OR_RETURN(v1::Rubric rubric,
                   path.empty() ? ParseRubricText(kDefaultRubricText, source)
                                : LoadRubricFile(path));
  // An error reads "<file>:<line>:<column>: rubric.<field>: <rule>".
  absl::Status valid = ValidateRubric(rubric, nullptr, "rubric");
  if (!valid.ok()) {
    return path.empty() ? PlaceRubricError(valid, kDefaultRubricText, source)
                        : PlaceRubricFileError(valid, path);
  }
  absl::StatusOr<v1::Rubric> active = store_->GetRubric(0);
  if (active.ok()) return absl::OkStatus();
  if (!absl::IsNotFound(active.status())) return active.status();
  rubric = NormalizeRubric(std::move(rubric));
  rubric.set_creator(absl::StrCat("file:", source));
  *rubric.mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(clock_->Now()));
  return store_->CreateRubric(rubric, true).status();
}

absl::StatusOr<IndicatorCatalogue> RubricBook::Catalogue() {
  {
    absl::MutexLock lock(&mu_);
    if (catalogue_expires_ > clock_->Now()) return catalogue_;
  }
  ASSIGN_OR_RETURN(std::vector<projects::v1::IndicatorDefinition> definitions,
                   inputs_->ListIndicatorDefinitions());
  IndicatorCatalogue catalogue;
  for (const projects::v1::IndicatorDefinition& definition : definitions) {
    catalogue[definition.key()] = IndicatorInfo{
        definition.min_value(), definition.max_value(), definition.integral()};
  }
  absl::MutexLock lock(&mu_);
  catalogue_ = catalogue;
  catalogue_expires_ = clock_->Now() + absl::Minutes(1);
  return catalogue;
}

absl::StatusOr<v1::Rubric> RubricBook::Resolve(int version) {
  if (version == 0) {
    {
      absl::MutexLock lock(&mu_);
      if (active_ != nullptr) return *active_;
    }
    absl::StatusOr<v1::Rubric> active = store_->GetRubric(0);
    if (absl::IsNotFound(active.status())) {
      return absl::FailedPreconditionError("no rubric is active yet");
    }
    RETURN_IF_ERROR(active.status());
    if (shared_) return active;
    absl::MutexLock lock(&mu_);
    active_ = std::make_shared<const v1::Rubric>(*active);
    return active;
  }
  absl::StatusOr<v1::Rubric> rubric = store_->GetRubric(version);
  if (absl::IsNotFound(rubric.status())) {
    return absl::NotFoundError(
        absl::StrCat("rubric version ", version, " does not exist"));
  }
  return rubric;
}

absl::StatusOr<v1::Rubric> RubricBook::CreateRubric(
    const Principal& principal, const v1::CreateRubricRequest& request) {
  RETURN_IF_ERROR(RequireGlobalAdmin(principal, "create rubrics"));
  if (!request.has_rubric()) return FieldError("rubric", "required");
  ASSIGN_OR_RETURN(IndicatorCatalogue catalogue, Catalogue());
  RETURN_IF_ERROR(ValidateRubric(request.rubric(), &catalogue, "rubric"));
  v1::Rubric rubric = NormalizeRubric(request.rubric());
  rubric.set_creator(principal.name);
  *rubric.mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(clock_->Now()));
  if (request.validate_only()) return rubric;
  ASSIGN_OR_RETURN(v1::Rubric stored,
                   store_->CreateRubric(rubric, request.activate()));
  if (stored.active() && !shared_) {
    absl::MutexLock lock(&mu_);
    active_ = std::make_shared<const v1::Rubric>(stored);
  }
  return stored;
}

absl::StatusOr<v1::Rubric> RubricBook::GetRubric(const Principal& principal,
                                                 int version) {
  RETURN_IF_ERROR(RequireViewer(principal, "read rubrics"));
  if (version < 0) {
    return FieldError("version",
                      absl::StrCat("must be 0 or more, got ", version));
  }
  absl::StatusOr<v1::Rubric> rubric = store_->GetRubric(version);
  if (absl::IsNotFound(rubric.status())) {
    return absl::NotFoundError(
        version == 0
            ? std::string("no rubric is active yet")
            : absl::StrCat("rubric version ", version, " does not exist"));
  }
  return rubric;
}

absl::StatusOr<v1::ListRubricsResponse> RubricBook::ListRubrics(
    const Principal& principal, const v1::ListRubricsRequest& request) {
  RETURN_IF_ERROR(RequireViewer(principal, "read rubrics"));
  ASSIGN_OR_RETURN(
      Pager pager,
      Pager::ForPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  ASSIGN_OR_RETURN(std::string after,
                   pager.Resume(request.page_token(), "rubrics"));
  int before = 0;
  if (!after.empty() && !absl::SimpleAtoi(after, &before)) {
    return FieldError("page_token", "corrupt");
  }
  ASSIGN_OR_RETURN(std::vector<v1::Rubric> rubrics,
                   store_->ListRubrics(before, pager.fetch_limit()));
  v1::ListRubricsResponse response;
  response.set_next_page_token(pager.Trim(
      rubrics, [](const v1::Rubric& r) { return absl::StrCat(r.version()); }));
  for (v1::Rubric& rubric : rubrics) {
    *response.add_rubrics() = std::move(rubric);
  }
  return response;
}

absl::StatusOr<v1::Rubric> RubricBook::SetActiveRubric(
    const Principal& principal, int version) {
  RETURN_IF_ERROR(RequireGlobalAdmin(principal, "activate rubrics"));
  if (version < 1) {
    return FieldError("version",
                      absl::StrCat("must be 1 or more, got ", version));
  }
  absl::StatusOr<v1::Rubric> stored = store_->SetActiveRubric(version);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(
        absl::StrCat("rubric version ", version, " does not exist"));
  }
  RETURN_IF_ERROR(stored.status());
  if (shared_) return stored;
  absl::MutexLock lock(&mu_);
  active_ = std::make_shared<const v1::Rubric>(*stored);
  return stored;
}

}  // namespace fivestar::scoring
