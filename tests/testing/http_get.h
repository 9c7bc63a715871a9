// A minimal HTTP/1.0 GET over loopback, for tests that scrape a server's
// /metrics endpoint.
#ifndef FIVESTAR_TESTS_TESTING_HTTP_GET_H_
#define FIVESTAR_TESTS_TESTING_HTTP_GET_H_

#include <string>

namespace fivestar::testing {

// GET http://127.0.0.1:<port><path> over a plain socket; the whole response
// (status line, headers and body), or "" when the connection fails.
std::string HttpGet(int port, const std::string& path);

}  // namespace fivestar::testing

#endif  // FIVESTAR_TESTS_TESTING_HTTP_GET_H_
