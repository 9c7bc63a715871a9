#include "services/projects/projects_service.h"

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/import_reactor.h"
#include "common/rpc.h"
#include "common/status.h"

namespace fivestar::projects {
namespace {

// Changes read from the store per batch of a WatchChanges stream.
constexpr int kWatchBatch = 256;

// One WatchChanges stream: replays from the cursor, then follows. It writes
// one change at a time; when it has nothing to send it registers with the
// feed and returns, and the feed wakes it on the next commit. All state is
// guarded by mu_, and every gRPC call (StartWrite, Finish) is made under it,
// which gRPC allows: none of them runs a reaction inline.
//
// gRPC owns the reactor until OnDone(); the feed holds weak references, so
// the object lives on (as a shared_ptr kept in self_) until OnDone() drops
// it, and a wake-up racing with the end of the stream finds it finished
// rather than freed.
class WatchReactor final : public grpc::ServerWriteReactor<v1::Change>,
                           public ChangeWatcher,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  static WatchReactor* Start(ChangeFeed* feed,
                             absl::StatusOr<FeedCursor> cursor) {
    auto reactor = std::make_shared<WatchReactor>(feed);
    reactor->self_ = reactor;
    reactor->Begin(std::move(cursor));
    return reactor.get();
  }

  explicit WatchReactor(ChangeFeed* feed) : feed_(feed) {}

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {  // The client went away.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                "the client stopped reading"));
      return;
    }
    queue_.pop_front();
    PumpLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!writing_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }
  }

  void OnNewChanges() override {
    absl::MutexLock lock(&mu_);
    if (!writing_) PumpLocked();
  }

  void OnFeedClosed() override {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    if (!writing_) PumpLocked();
  }

  void OnDone() override {
    // Possibly the last reference: nothing may touch members after this.
    std::shared_ptr<WatchReactor> last = std::move(self_);
  }

 private:
  void Begin(absl::StatusOr<FeedCursor> cursor) {
    absl::MutexLock lock(&mu_);
    if (!cursor.ok()) {
      FinishLocked(ToGrpcStatus(cursor.status()));
      return;
    }
    cursor_ = *std::move(cursor);
    if (!feed_->Track(shared_from_this())) closing_ = true;
    // Headers go out at once, so a client knows the stream is open even
    // while no change arrives.
    StartSendInitialMetadata();
    PumpLocked();
  }

  // Sends the next queued change, or reads more, or waits for a commit.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!finished_) {
      if (closing_) {
        FinishLocked(grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            "the server is shutting down; reconnect from your last sequence"));
        return;
      }
      if (cancelled_) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
        return;
      }
      if (!queue_.empty()) {
        writing_ = true;
        StartWrite(&queue_.front());
        return;
      }
      absl::StatusOr<ChangeBatch> batch = feed_->Read(cursor_, kWatchBatch);
      if (!batch.ok()) {
        FinishLocked(ToGrpcStatus(batch.status()));
        return;
      }
      cursor_.scanned_through = batch->scanned_through;
      for (v1::Change& change : batch->changes) {
        queue_.push_back(std::move(change));
      }
      if (!queue_.empty()) continue;
      // Nothing new: sleep until the next commit (false means one already
      // happened, or the feed closed; loop and look again).
      if (feed_->WaitBeyond(cursor_.scanned_through, shared_from_this())) {
        return;
      }
      if (feed_->closed()) closing_ = true;
    }
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  ChangeFeed* const feed_;
  std::shared_ptr<WatchReactor> self_;
  absl::Mutex mu_;
  FeedCursor cursor_ ABSL_GUARDED_BY(mu_);
  // Changes read but not yet written; the front one is being written while
  // writing_ is true (gRPC reads it until OnWriteDone).
  std::deque<v1::Change> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateProject(
    grpc::CallbackServerContext* context,
    const v1::CreateProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->CreateProject(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetProject(
    grpc::CallbackServerContext* context, const v1::GetProjectRequest* request,
    v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->GetProject(principal, request->id()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::UpdateProject(
    grpc::CallbackServerContext* context,
    const v1::UpdateProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.tracker->UpdateProject(principal, request->project(),
                                                 request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::DeleteProject(
    grpc::CallbackServerContext* context,
    const v1::DeleteProjectRequest* request, google::protobuf::Empty*) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    return logic_.tracker->DeleteProject(principal, request->id(),
                                         request->etag());
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CancelProject(
    grpc::CallbackServerContext* context,
    const v1::CancelProjectRequest* request, v1::Project* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->CancelProject(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListProjects(
    grpc::CallbackServerContext* context,
    const v1::ListProjectsRequest* request,
    v1::ListProjectsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->ListProjects(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateProgressReport(
    grpc::CallbackServerContext* context,
    const v1::CreateProgressReportRequest* request,
    v1::CreateProgressReportResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.tracker->CreateProgressReport(
                                    principal, request->report()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListProgressReports(
    grpc::CallbackServerContext* context,
    const v1::ListProgressReportsRequest* request,
    v1::ListProgressReportsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.tracker->ListProgressReports(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::CreateIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::CreateIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.catalogue->CreateDefinition(
                                    principal, request->definition()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::GetIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.catalogue->GetDefinition(principal, request->key()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::UpdateIndicatorDefinition(
    grpc::CallbackServerContext* context,
    const v1::UpdateIndicatorDefinitionRequest* request,
    v1::IndicatorDefinition* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.catalogue->UpdateDefinition(
                                    principal, request->definition(),
                                    request->update_mask()));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListIndicatorDefinitions(
    grpc::CallbackServerContext* context,
    const v1::ListIndicatorDefinitionsRequest* request,
    v1::ListIndicatorDefinitionsResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.catalogue->ListDefinitions(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::SetIndicatorValues(
    grpc::CallbackServerContext* context,
    const v1::SetIndicatorValuesRequest* request,
    v1::SetIndicatorValuesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.ledger->SetValues(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListIndicatorValues(
    grpc::CallbackServerContext* context,
    const v1::ListIndicatorValuesRequest* request,
    v1::ListIndicatorValuesResponse* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response, logic_.ledger->ListValues(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::GetSummary(
    grpc::CallbackServerContext* context, const v1::GetSummaryRequest* request,
    v1::Summary* response) {
  return RunUnary(context, runtime_, [=](const Principal& principal) {
    ASSIGN_OR_RETURN(*response,
                     logic_.summaries->GetSummary(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProjectsServiceImpl::ListVillageSummaries(
    grpc::CallbackServerContext* context,
    const v1::ListVillageSummariesRequest* request,
    v1::ListVillageSummariesResponse* response) {
  return RunUnary(context, *authenticator_, [&](const Principal& principal) {
    ASSIGN_OR_RETURN(
        *response, logic_.summaries->ListVillageSummaries(principal, *request));
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::Change>* ProjectsServiceImpl::WatchChanges(
    grpc::CallbackServerContext* context,
    const v1::WatchChangesRequest* request) {
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return WatchReactor::Start(logic_.feed, principal.status());
  }
  return WatchReactor::Start(logic_.feed,
                             logic_.feed->Open(*principal, *request));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
ProjectsServiceImpl::ImportProjects(grpc::CallbackServerContext* context) {
  using Reactor = ImportReactor<v1::ImportProjectsRequest,
                                v1::ImportProjectsResponse, ProjectImport>;
  auto summarize = [](const ProjectImportCounts& counts,
                      v1::ImportProjectsResponse* response) {
    response->set_projects_created(counts.projects_created);
    response->set_projects_updated(counts.projects_updated);
    response->set_projects_unchanged(counts.projects_unchanged);
    response->set_reports_created(counts.reports_created);
    response->set_reports_unchanged(counts.reports_unchanged);
  };
  absl::StatusOr<Principal> principal =
      runtime_.authenticator->Authenticate(*context);
  if (!principal.ok()) {
    return new Reactor(context, runtime_.executor, principal.status(),
                       summarize);
  }
  return new Reactor(context, runtime_.executor,
                     logic_.tracker->StartImport(*principal), summarize);
}

}  // namespace fivestar::projects
