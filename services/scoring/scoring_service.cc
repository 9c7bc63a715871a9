#include "services/scoring/scoring_service.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc.h"
#include "common/status.h"

namespace fivestar::scoring {

std::vector<std::string> ScoringWriteMethods() {
  std::vector<std::string> methods;
  for (const char* method :
       {"CreateRubric", "SetActiveRubric", "Evaluate", "EvaluateRegion",
        "ApplyForAward", "ReviewAward", "StartPublicNotice", "ConfirmAward",
        "WithdrawAward", "RecordAward", "FreezeLeaderboard"}) {
    methods.push_back(absl::StrCat("/", v1::ScoringService::service_full_name(),
                                   "/", method));
  }
  return methods;
}
namespace {

// Moves a result into the response the call returns.
template <typename T>
absl::Status Answer(T* response, absl::StatusOr<T> result) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

// Streams a region evaluation. The evaluation runs on the executor (never
// on a gRPC thread) and hands its messages to a short queue; the reactor
// writes them one at a time. A full queue makes the evaluation wait for
// the client (flow control); a client that goes away stops it.
class EvaluateRegionReactor final
    : public grpc::ServerWriteReactor<v1::EvaluateRegionResponse> {
 public:
  EvaluateRegionReactor(const RpcRuntime& runtime, Evaluations* evaluations,
                        grpc::CallbackServerContext* context,
                        const v1::EvaluateRegionRequest& request) {
    absl::StatusOr<Principal> principal =
        runtime.authenticator->Authenticate(*context);
    if (!principal.ok()) {
      Finish(ToGrpcStatus(principal.status()));
      return;
    }
    runtime.executor->Submit(
        [this, evaluations, request, principal = *std::move(principal)] {
          absl::Status status = evaluations->EvaluateRegion(
              principal, request, [this](v1::EvaluateRegionResponse message) {
                return Enqueue(std::move(message));
              });
          Done(status);
        });
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        gone_ = true;
        queue_.clear();
      }
      if (!queue_.empty()) {
        StartNextLocked();
      } else if (done_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (finish) Finish(status_);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    gone_ = true;
  }

  void OnDone() override { delete this; }

 private:
  static constexpr size_t kQueue = 4;

  // Called on the evaluation's thread; false when the client is gone.
  bool Enqueue(v1::EvaluateRegionResponse message) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](EvaluateRegionReactor* self) {
          return self->gone_ || self->queue_.size() < kQueue;
        },
        this));
    if (gone_) return false;
    queue_.push_back(std::move(message));
    if (!writing_) StartNextLocked();
    return true;
  }

  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  // The evaluation ended with `status`; the call finishes once the queue
  // is written.
  void Done(const absl::Status& status) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      status_ = ToGrpcStatus(status);
      if (!writing_ && (queue_.empty() || gone_) && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    // Nothing of `this` may be touched after Finish: OnDone may delete it.
    if (finish) Finish(status_);
  }

  absl::Mutex mu_;
  std::deque<v1::EvaluateRegionResponse> queue_ ABSL_GUARDED_BY(mu_);
  v1::EvaluateRegionResponse current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_;
};

}  // namespace

grpc::ServerWriteReactor<v1::EvaluateRegionResponse>*
ScoringServiceImpl::EvaluateRegion(grpc::CallbackServerContext* context,
                                   const v1::EvaluateRegionRequest* request) {
  return new EvaluateRegionReactor(runtime_, evaluations_, context, *request);
}

grpc::ServerUnaryReactor* ScoringServiceImpl::CreateRubric(
    grpc::CallbackServerContext* context,
    const v1::CreateRubricRequest* request, v1::Rubric* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, rubrics_->CreateRubric(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetRubric(
    grpc::CallbackServerContext* context, const v1::GetRubricRequest* request,
    v1::Rubric* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, rubrics_->GetRubric(principal, request->version()));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ListRubrics(
    grpc::CallbackServerContext* context, const v1::ListRubricsRequest* request,
    v1::ListRubricsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, rubrics_->ListRubrics(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::SetActiveRubric(
    grpc::CallbackServerContext* context,
    const v1::SetActiveRubricRequest* request, v1::Rubric* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response,
                  rubrics_->SetActiveRubric(principal, request->version()));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::Evaluate(
    grpc::CallbackServerContext* context, const v1::EvaluateRequest* request,
    v1::Evaluation* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, evaluations_->Evaluate(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetEvaluation(
    grpc::CallbackServerContext* context,
    const v1::GetEvaluationRequest* request, v1::Evaluation* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, evaluations_->GetEvaluation(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::WhatIf(
    grpc::CallbackServerContext* context, const v1::WhatIfRequest* request,
    v1::WhatIfResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, evaluations_->WhatIf(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetGap(
    grpc::CallbackServerContext* context, const v1::GetGapRequest* request,
    v1::Gap* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, evaluations_->GetGap(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ApplyForAward(
    grpc::CallbackServerContext* context,
    const v1::ApplyForAwardRequest* request, v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Apply(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ReviewAward(
    grpc::CallbackServerContext* context, const v1::ReviewAwardRequest* request,
    v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Review(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::StartPublicNotice(
    grpc::CallbackServerContext* context,
    const v1::StartPublicNoticeRequest* request, v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->StartPublicNotice(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ConfirmAward(
    grpc::CallbackServerContext* context,
    const v1::ConfirmAwardRequest* request, v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Confirm(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::WithdrawAward(
    grpc::CallbackServerContext* context,
    const v1::WithdrawAwardRequest* request, v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Withdraw(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::RecordAward(
    grpc::CallbackServerContext* context, const v1::RecordAwardRequest* request,
    v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Record(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetAward(
    grpc::CallbackServerContext* context, const v1::GetAwardRequest* request,
    v1::Award* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->Get(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ListAwards(
    grpc::CallbackServerContext* context, const v1::ListAwardsRequest* request,
    v1::ListAwardsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->List(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::ListAwardEvents(
    grpc::CallbackServerContext* context,
    const v1::ListAwardEventsRequest* request,
    v1::ListAwardEventsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->ListEvents(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetLeaderboard(
    grpc::CallbackServerContext* context,
    const v1::GetLeaderboardRequest* request,
    v1::GetLeaderboardResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, boards_->GetLeaderboard(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetVillageRank(
    grpc::CallbackServerContext* context,
    const v1::GetVillageRankRequest* request,
    v1::GetVillageRankResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, boards_->GetVillageRank(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::GetIncentives(
    grpc::CallbackServerContext* context,
    const v1::GetIncentivesRequest* request, v1::Incentives* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, awards_->GetIncentives(principal, *request));
  });
}

grpc::ServerUnaryReactor* ScoringServiceImpl::FreezeLeaderboard(
    grpc::CallbackServerContext* context,
    const v1::FreezeLeaderboardRequest* request,
    v1::LeaderboardSnapshot* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return Answer(response, boards_->FreezeLeaderboard(principal, *request));
  });
}

}  // namespace fivestar::scoring
