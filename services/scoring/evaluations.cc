#include "services/scoring/evaluations.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/heap.h"
#include "common/status.h"
#include "common/validation.h"
#include "google/protobuf/util/time_util.h"
#include "services/scoring/evaluator.h"
#include "services/scoring/gap.h"
#include "services/scoring/scoring_fields.h"

namespace fivestar::scoring {
namespace {

using google::protobuf::util::TimeUtil;

// Progress is sent at least this often (in villages, and in time).
constexpr int kProgressVillages = 100;
constexpr absl::Duration kProgressInterval = absl::Seconds(1);

absl::Status ValidateVersion(int version) {
  if (version < 0) {
    return FieldError(
        "rubric_version",
        absl::StrCat("must be 0 (the active rubric) or more, got ", version));
  }
  return absl::OkStatus();
}

}  // namespace

Evaluations::Evaluations(ScoringStore* store, InputsSource* inputs,
                         RubricBook* rubrics, Leaderboards* boards,
                         const Jurisdiction* jurisdiction, const Clock* clock)
    : store_(store),
      inputs_(inputs),
      rubrics_(rubrics),
      boards_(boards),
      jurisdiction_(jurisdiction),
      clock_(clock) {}

v1::Evaluation Evaluations::Run(const v1::Rubric& rubric,
                                const VillageInputs& inputs) {
  v1::Evaluation evaluation = scoring::Evaluate(rubric, inputs);
  *evaluation.mutable_evaluate_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock_->Now()));
  return evaluation;
}

absl::Status Evaluations::Record(std::vector<EvaluationRecord> records,
                                 const std::optional<CursorUpdate>& cursor,
                                 bool publish,
                                 absl::flat_hash_set<std::string>* tops) {
  absl::MutexLock lock(&record_mu_);
  ASSIGN_OR_RETURN(std::vector<RecordOutcome> outcomes,
                   store_->RecordEvaluations(records, cursor));
  if (tops != nullptr) {
    for (const EvaluationRecord& record : records) {
      if (record.standing.lineage.size() > 1) {
        tops->insert(record.standing.lineage.back());
      }
    }
    for (const RecordOutcome& outcome : outcomes) {
      if (outcome.previous.has_value() &&
          outcome.previous->lineage.size() > 1) {
        tops->insert(outcome.previous->lineage.back());
      }
    }
  }
  if (!publish) return absl::OkStatus();
  std::vector<Standing> now;
  std::vector<std::optional<Standing>> previous;
  for (size_t i = 0; i < records.size(); ++i) {
    now.push_back(std::move(records[i].standing));
    previous.push_back(i < outcomes.size() ? std::move(outcomes[i].previous)
                                           : std::nullopt);
  }
  boards_->Publish(now, previous);
  return absl::OkStatus();
}

absl::StatusOr<v1::Evaluation> Evaluations::Evaluate(
    const Principal& principal, const v1::EvaluateRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateVersion(request.rubric_version()));
  RETURN_IF_ERROR(AuthorizeNamedVillage(*jurisdiction_, principal,
                                        Role::kOperator, request.village_id(),
                                        "evaluate village")
                      .status());
  ASSIGN_OR_RETURN(v1::Rubric rubric,
                   rubrics_->Resolve(request.rubric_version()));
  ASSIGN_OR_RETURN(VillageInputs inputs,
                   inputs_->ReadVillage(request.village_id(), request.period(),
                                        NeedsOf(rubric)));
  v1::Evaluation evaluation = Run(rubric, inputs);
  if (!rubric.active()) return evaluation;
  evaluation.set_recorded(true);
  std::vector<EvaluationRecord> records = {
      {evaluation, StandingOf(evaluation, inputs.lineage)}};
  RETURN_IF_ERROR(Record(std::move(records), std::nullopt, true));
  return evaluation;
}

absl::StatusOr<v1::Evaluation> Evaluations::GetEvaluation(
    const Principal& principal, const v1::GetEvaluationRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
      principal, request.village_id(), "read the evaluations of village"));
  absl::StatusOr<v1::Evaluation> evaluation =
      store_->GetEvaluation(request.village_id(), request.period());
  if (absl::IsNotFound(evaluation.status())) {
    return absl::NotFoundError(absl::StrCat("village ", request.village_id(),
                                            " was never evaluated for ",
                                            request.period()));
  }
  return evaluation;
}

absl::Status Evaluations::EvaluateRegion(
    const Principal& principal, const v1::EvaluateRegionRequest& request,
    const std::function<bool(v1::EvaluateRegionResponse)>& emit) {
  RETURN_IF_ERROR(ValidateRequiredId("region_id", request.region_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateVersion(request.rubric_version()));
  RETURN_IF_ERROR(jurisdiction_
                      ->AuthorizeRegion(principal, Role::kOperator,
                                        request.region_id(), "",
                                        "evaluate the villages of")
                      .status());
  ASSIGN_OR_RETURN(v1::Rubric rubric,
                   rubrics_->Resolve(request.rubric_version()));
  ASSIGN_OR_RETURN(
      std::vector<std::string> villages,
      jurisdiction_->directory()->VillagesUnder(request.region_id()));
  const InputNeeds needs = NeedsOf(rubric);
  const bool record = rubric.active();

  v1::EvaluateRegionResponse progress;
  progress.set_phase(v1::EvaluateRegionResponse::RUNNING);
  progress.set_rubric_version(rubric.version());
  progress.set_villages_total(static_cast<int>(villages.size()));
  int evaluated = 0;
  int failed = 0;
  int since_sent = 0;
  absl::Time last_sent = clock_->Now();
  bool client_gone = false;
  auto send = [&](v1::EvaluateRegionResponse::Phase phase) {
    progress.set_phase(phase);
    progress.set_villages_evaluated(evaluated);
    progress.set_villages_failed(failed);
    if (!emit(progress)) client_gone = true;
    progress.clear_evaluations();
    progress.clear_failures();
    since_sent = 0;
    last_sent = clock_->Now();
  };
  // The first message tells the total at once.
  send(v1::EvaluateRegionResponse::RUNNING);

  // The top regions of the lineages recorded (old and new): the boards to
  // rebuild at the end.
  absl::flat_hash_set<std::string> tops;
  absl::Status walk = inputs_->ReadRegion(
      request.region_id(), request.period(), needs,
      [&](InputsPage page) -> absl::Status {
        std::vector<EvaluationRecord> records;
        for (const VillageInputs& inputs : page.villages) {
          v1::Evaluation evaluation = Run(rubric, inputs);
          evaluation.set_recorded(record);
          if (request.include_evaluations()) {
            *progress.add_evaluations() = evaluation;
          }
          if (record) {
            records.push_back(
                {evaluation, StandingOf(evaluation, inputs.lineage)});
          }
        }
        for (const auto& [village_id, status] : page.failures) {
          v1::VillageFailure* failure = progress.add_failures();
          failure->set_village_id(village_id);
          failure->set_code(static_cast<int>(status.code()));
          failure->set_message(std::string(status.message()));
        }
        if (!records.empty()) {
          // Recorded page by page, so a cancelled call keeps what it
          // finished; the boards are rebuilt in one go at the end.
          RETURN_IF_ERROR(
              Record(std::move(records), std::nullopt, false, &tops));
        }
        evaluated += static_cast<int>(page.villages.size());
        failed += static_cast<int>(page.failures.size());
        since_sent +=
            static_cast<int>(page.villages.size() + page.failures.size());
        if (since_sent >= kProgressVillages ||
            clock_->Now() - last_sent >= kProgressInterval ||
            progress.evaluations_size() > 0 || progress.failures_size() > 0) {
          send(v1::EvaluateRegionResponse::RUNNING);
        }
        if (client_gone) {
          return absl::CancelledError("the client cancelled the evaluation");
        }
        return absl::OkStatus();
      });
  if (!tops.empty()) boards_->RebuildBoardsUnder(request.period(), tops);
  // A region's pages, records and board rebuild freed far more than the
  // service keeps; without this its resident memory stays at the largest
  // region's high-water mark plus the holes every later one leaves.
  ReleaseFreeHeap();
  RETURN_IF_ERROR(walk);
  send(v1::EvaluateRegionResponse::DONE);
  return absl::OkStatus();
}

absl::StatusOr<v1::WhatIfResponse> Evaluations::WhatIf(
    const Principal& principal, const v1::WhatIfRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateVersion(request.rubric_version()));
  RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
      principal, request.village_id(), "evaluate village"));
  ASSIGN_OR_RETURN(v1::Rubric rubric,
                   rubrics_->Resolve(request.rubric_version()));
  ASSIGN_OR_RETURN(IndicatorCatalogue catalogue, rubrics_->Catalogue());
  RETURN_IF_ERROR(ValidateWhatIf(request, rubric, catalogue));
  const Overrides overrides = OverridesOf(request);
  InputNeeds needs = NeedsOf(rubric);
  ASSIGN_OR_RETURN(
      VillageInputs inputs,
      inputs_->ReadVillage(request.village_id(), request.period(), needs));
  v1::Evaluation baseline = Run(rubric, inputs);
  v1::Evaluation scenario = scoring::Evaluate(rubric, inputs, &overrides);
  *scenario.mutable_evaluate_time() = baseline.evaluate_time();
  return CompareWhatIf(std::move(baseline), std::move(scenario));
}

absl::StatusOr<v1::Gap> Evaluations::GetGap(const Principal& principal,
                                            const v1::GetGapRequest& request) {
  RETURN_IF_ERROR(ValidateRequiredId("village_id", request.village_id()));
  RETURN_IF_ERROR(
      ParsePeriod("period", request.period(), clock_->Now()).status());
  RETURN_IF_ERROR(ValidateRange("target_level", request.target_level(), 0, 5));
  RETURN_IF_ERROR(ValidateVersion(request.rubric_version()));
  RETURN_IF_ERROR(jurisdiction_->AuthorizeVillageRead(
      principal, request.village_id(), "evaluate village"));
  ASSIGN_OR_RETURN(v1::Rubric rubric,
                   rubrics_->Resolve(request.rubric_version()));
  ASSIGN_OR_RETURN(VillageInputs inputs,
                   inputs_->ReadVillage(request.village_id(), request.period(),
                                        NeedsOf(rubric)));
  int target = request.target_level();
  if (target == 0) {
    target = inputs.village.target_level();
    if (target == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "village ", request.village_id(),
          " has no target level (定星) in the registry; give target_level"));
    }
  }
  return ComputeGap(rubric, Run(rubric, inputs), target);
}

absl::Status Evaluations::Reevaluate(
    const std::vector<Reevaluation>& work,
    const std::optional<CursorUpdate>& cursor) {
  ASSIGN_OR_RETURN(v1::Rubric rubric, rubrics_->Resolve(0));
  const InputNeeds needs = NeedsOf(rubric);
  std::vector<EvaluationRecord> records;
  std::vector<std::string> gone;
  for (const Reevaluation& village : work) {
    for (const std::string& period : village.periods) {
      absl::StatusOr<VillageInputs> inputs =
          inputs_->ReadVillage(village.village_id, period, needs);
      if (absl::IsNotFound(inputs.status())) {
        gone.push_back(village.village_id);
        break;
      }
      RETURN_IF_ERROR(inputs.status());
      v1::Evaluation evaluation = Run(rubric, *inputs);
      evaluation.set_recorded(true);
      records.push_back({evaluation, StandingOf(evaluation, inputs->lineage)});
    }
  }
  // Removals first, each alone; the cursor travels with the last write.
  for (size_t i = 0; i < gone.size(); ++i) {
    const bool last = records.empty() && i + 1 == gone.size();
    absl::MutexLock lock(&record_mu_);
    ASSIGN_OR_RETURN(
        std::vector<Standing> removed,
        store_->RemoveVillage(gone[i], last ? cursor : std::nullopt));
    boards_->Unpublish(removed);
  }
  if (!records.empty()) return Record(std::move(records), cursor, true);
  if (gone.empty() && cursor.has_value()) return store_->SetCursor(*cursor);
  return absl::OkStatus();
}

}  // namespace fivestar::scoring
