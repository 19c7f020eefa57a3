// Throwaway certificates for TLS tests, made at test time with the openssl
// command line: a CA, a server certificate for 127.0.0.1 and localhost, a
// client certificate signed by the CA, and one signed by an unrelated CA.
#ifndef NAS_TESTS_TEST_CERTS_H_
#define NAS_TESTS_TEST_CERTS_H_

#include <string>

namespace nas::testing {

struct TestCerts {
  std::string ca;  // PEM paths
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
  std::string rogue_client_cert;  // signed by another CA
  std::string rogue_client_key;
};

// Writes the files under `dir` (which must exist). Returns false and sets
// `error` (with openssl's output) when a command fails.
bool MakeTestCerts(const std::string& dir, TestCerts* certs,
                   std::string* error);

}  // namespace nas::testing

#endif  // NAS_TESTS_TEST_CERTS_H_
