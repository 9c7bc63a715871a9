#include "common/invalid_request.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace fivestar {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

class InvalidRequestInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit InvalidRequestInterceptor(std::string method)
      : method_(std::move(method)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
    }
    if (unparsed_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::UNIMPLEMENTED) {
      methods->ModifySendStatus(
          grpc::Status(grpc::INVALID_ARGUMENT, InvalidRequestMessage(method_)));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unparsed_ = false;
};

class InvalidRequestInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      ServerRpcInfo* info) override {
    // Only these deserialize the request before the handler runs.
    if (info->type() != ServerRpcInfo::Type::UNARY &&
        info->type() != ServerRpcInfo::Type::SERVER_STREAMING) {
      return nullptr;
    }
    return new InvalidRequestInterceptor(
        info->method() == nullptr ? "" : info->method());
  }
};

}  // namespace

std::string InvalidRequestMessage(const std::string& method) {
  // "/fivestar.registry.v1.RegistryService/GetVillage" names the method
  // "fivestar.registry.v1.RegistryService.GetVillage" in the descriptors.
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrReplaceAll(absl::StripPrefix(method, "/"), {{"/", "."}}));
  const std::string type = descriptor != nullptr
                               ? descriptor->input_type()->full_name()
                               : std::string("the method's request type");
  return absl::StrCat("the request does not parse as ", type,
                      " (e.g. a string that is not valid UTF-8); nothing "
                      "was done");
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewInvalidRequestInterceptorFactory() {
  return std::make_unique<InvalidRequestInterceptorFactory>();
}

}  // namespace fivestar
