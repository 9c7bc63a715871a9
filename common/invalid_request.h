// INVALID_ARGUMENT, not UNIMPLEMENTED, for a request that does not parse.
//
// gRPC 1.51's callback API deserializes the request of a unary or
// server-streaming call before the handler runs; when the bytes are not a
// message of the method's request type (or a string field is not valid
// UTF-8), it never calls the handler and ends the call with UNIMPLEMENTED
// and an empty message (CallbackUnaryHandler::RunHandler and
// CallbackServerStreamingHandler::RunHandler answer a failed
// deserialization with their Unimplemented reactors), which tells a client
// the method does not exist. This server interceptor sees the failed
// deserialization (the request is null after POST_RECV_MESSAGE) and
// rewrites that status to INVALID_ARGUMENT naming the request type. Chunked
// imports read raw bytes and report a chunk that does not parse themselves
// (common/import_reactor.h).
#ifndef FIVESTAR_COMMON_INVALID_REQUEST_H_
#define FIVESTAR_COMMON_INVALID_REQUEST_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

namespace fivestar {

// The status a call whose request does not parse ends with, for the method
// `method` ("/package.Service/Method").
std::string InvalidRequestMessage(const std::string& method);

// Register before any interceptor that reads the final status (metrics,
// logs), so that they see INVALID_ARGUMENT.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewInvalidRequestInterceptorFactory();

}  // namespace fivestar

#endif  // FIVESTAR_COMMON_INVALID_REQUEST_H_
