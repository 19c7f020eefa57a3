#include "tests/test_certs.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace nas::testing {
namespace {

// P-256 keys: fast to generate, and gRPC's TLS accepts them.
constexpr char kNewKey[] =
    "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

bool Run(const std::string& dir, const std::string& command,
         std::string* error) {
  const std::string log = dir + "/openssl.log";
  const std::string full =
      "cd '" + dir + "' && " + command + " >>'" + log + "' 2>&1";
  if (std::system(full.c_str()) == 0) return true;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  *error = "failed: " + command + "\n" + text.str();
  return false;
}

// A key and a certificate for `name` signed by `ca`, with `extensions`.
bool Issue(const std::string& dir, const std::string& name,
           const std::string& ca, const std::string& extensions,
           std::string* error) {
  std::ofstream(dir + "/" + name + ".ext") << extensions << "\n";
  return Run(dir,
             std::string("openssl req ") + kNewKey + " -keyout " + name +
                 ".key -out " + name + ".csr -subj /CN=" + name,
             error) &&
         Run(dir,
             "openssl x509 -req -in " + name + ".csr -CA " + ca +
                 ".pem -CAkey " + ca + ".key -CAcreateserial -days 2 -out " +
                 name + ".pem -extfile " + name + ".ext",
             error);
}

bool MakeCa(const std::string& dir, const std::string& name,
            std::string* error) {
  return Run(dir,
             std::string("openssl req -x509 ") + kNewKey + " -keyout " + name +
                 ".key -out " + name + ".pem -days 2 -subj /CN=" + name +
                 " -addext basicConstraints=critical,CA:TRUE"
                 " -addext keyUsage=critical,keyCertSign,cRLSign",
             error);
}

}  // namespace

bool MakeTestCerts(const std::string& dir, TestCerts* certs,
                   std::string* error) {
  const bool ok =
      MakeCa(dir, "ca", error) && MakeCa(dir, "rogue_ca", error) &&
      Issue(dir, "server", "ca",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "extendedKeyUsage=serverAuth",
            error) &&
      Issue(dir, "client", "ca", "extendedKeyUsage=clientAuth", error) &&
      Issue(dir, "rogue_client", "rogue_ca", "extendedKeyUsage=clientAuth",
            error);
  if (!ok) return false;
  certs->ca = dir + "/ca.pem";
  certs->server_cert = dir + "/server.pem";
  certs->server_key = dir + "/server.key";
  certs->client_cert = dir + "/client.pem";
  certs->client_key = dir + "/client.key";
  certs->rogue_client_cert = dir + "/rogue_client.pem";
  certs->rogue_client_key = dir + "/rogue_client.key";
  return true;
}

}  // namespace nas::testing
