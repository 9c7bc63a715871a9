// The gRPC face of scoring: authenticates each call, hands it to the logic
// (RubricBook, Evaluations, AwardDesk, Leaderboards) on the executor and
// maps the result onto the wire.
#ifndef FIVESTAR_SERVICES_SCORING_SCORING_SERVICE_H_
#define FIVESTAR_SERVICES_SCORING_SCORING_SERVICE_H_

#include <string>
#include <vector>

#include "common/rpc.h"
#include "fivestar/scoring/v1/scoring.grpc.pb.h"
#include "services/scoring/award_desk.h"
#include "services/scoring/evaluations.h"
#include "services/scoring/leaderboards.h"
#include "services/scoring/rubric_book.h"

namespace fivestar::scoring {

// clang-format off
using ScoringServiceBase =
    v1::ScoringService::WithCallbackMethod_CreateRubric<
    v1::ScoringService::WithCallbackMethod_GetRubric<
    v1::ScoringService::WithCallbackMethod_ListRubrics<
    v1::ScoringService::WithCallbackMethod_SetActiveRubric<
    v1::ScoringService::WithCallbackMethod_Evaluate<
    v1::ScoringService::WithCallbackMethod_GetEvaluation<
    v1::ScoringService::WithCallbackMethod_EvaluateRegion<
    v1::ScoringService::WithCallbackMethod_WhatIf<
    v1::ScoringService::WithCallbackMethod_GetGap<
    v1::ScoringService::WithCallbackMethod_ApplyForAward<
    v1::ScoringService::WithCallbackMethod_ReviewAward<
    v1::ScoringService::WithCallbackMethod_StartPublicNotice<
    v1::ScoringService::WithCallbackMethod_ConfirmAward<
    v1::ScoringService::WithCallbackMethod_WithdrawAward<
    v1::ScoringService::WithCallbackMethod_RecordAward<
    v1::ScoringService::WithCallbackMethod_GetAward<
    v1::ScoringService::WithCallbackMethod_ListAwards<
    v1::ScoringService::WithCallbackMethod_ListAwardEvents<
    v1::ScoringService::WithCallbackMethod_GetLeaderboard<
    v1::ScoringService::WithCallbackMethod_GetVillageRank<
    v1::ScoringService::WithCallbackMethod_GetIncentives<
    v1::ScoringService::WithCallbackMethod_FreezeLeaderboard<
    v1::ScoringService::Service>>>>>>>>>>>>>>>>>>>>>>;
// clang-format on

// The full names ("/fivestar.scoring.v1.ScoringService/<Method>") of the
// methods that change something: the ones the audit log records
// (common/audit.h). Every other method is a read (Get, List, Watch, Export,
// BatchGet, WhatIf) and is not recorded. A new write method belongs here.
std::vector<std::string> ScoringWriteMethods();

class ScoringServiceImpl final : public ScoringServiceBase {
 public:
  // Everything must outlive the service.
  ScoringServiceImpl(RubricBook* rubrics, Evaluations* evaluations,
                     AwardDesk* awards, Leaderboards* boards,
                     RpcRuntime runtime)
      : rubrics_(rubrics),
        evaluations_(evaluations),
        awards_(awards),
        boards_(boards),
        runtime_(runtime) {}

#define FIVESTAR_SCORING_UNARY(Method, Request, Response)                \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context, \
                                   const v1::Request* request,           \
                                   v1::Response* response) override;
  FIVESTAR_SCORING_UNARY(CreateRubric, CreateRubricRequest, Rubric)
  FIVESTAR_SCORING_UNARY(GetRubric, GetRubricRequest, Rubric)
  FIVESTAR_SCORING_UNARY(ListRubrics, ListRubricsRequest, ListRubricsResponse)
  FIVESTAR_SCORING_UNARY(SetActiveRubric, SetActiveRubricRequest, Rubric)
  FIVESTAR_SCORING_UNARY(Evaluate, EvaluateRequest, Evaluation)
  FIVESTAR_SCORING_UNARY(GetEvaluation, GetEvaluationRequest, Evaluation)
  FIVESTAR_SCORING_UNARY(WhatIf, WhatIfRequest, WhatIfResponse)
  FIVESTAR_SCORING_UNARY(GetGap, GetGapRequest, Gap)
  FIVESTAR_SCORING_UNARY(ApplyForAward, ApplyForAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(ReviewAward, ReviewAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(StartPublicNotice, StartPublicNoticeRequest, Award)
  FIVESTAR_SCORING_UNARY(ConfirmAward, ConfirmAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(WithdrawAward, WithdrawAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(RecordAward, RecordAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(GetAward, GetAwardRequest, Award)
  FIVESTAR_SCORING_UNARY(ListAwards, ListAwardsRequest, ListAwardsResponse)
  FIVESTAR_SCORING_UNARY(ListAwardEvents, ListAwardEventsRequest,
                         ListAwardEventsResponse)
  FIVESTAR_SCORING_UNARY(GetLeaderboard, GetLeaderboardRequest,
                         GetLeaderboardResponse)
  FIVESTAR_SCORING_UNARY(GetVillageRank, GetVillageRankRequest,
                         GetVillageRankResponse)
  FIVESTAR_SCORING_UNARY(GetIncentives, GetIncentivesRequest, Incentives)
  FIVESTAR_SCORING_UNARY(FreezeLeaderboard, FreezeLeaderboardRequest,
                         LeaderboardSnapshot)
#undef FIVESTAR_SCORING_UNARY

  grpc::ServerWriteReactor<v1::EvaluateRegionResponse>* EvaluateRegion(
      grpc::CallbackServerContext* context,
      const v1::EvaluateRegionRequest* request) override;

 private:
  RubricBook* const rubrics_;
  Evaluations* const evaluations_;
  AwardDesk* const awards_;
  Leaderboards* const boards_;
  const RpcRuntime runtime_;
};

}  // namespace fivestar::scoring

#endif  // FIVESTAR_SERVICES_SCORING_SCORING_SERVICE_H_
