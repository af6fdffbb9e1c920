// A self-signed server certificate in its own temporary folder, removed with the object, and
// fresh server TLS contexts from it for scripted servers (fake_smtp_server.h). One per test suite:
// made in SetUpTestSuite, deleted in TearDownTestSuite. Test-only.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "net/self_signed.h"
#include "net/tls_context.h"

namespace bulwark::test {

class TemporaryCertificate : public net::CertificateFiles {
 public:
  // `folder_prefix` names the folder (with the process id, so parallel suites never share one);
  // `host` is the certificate's name. A failure is a test failure, and the paths stay empty.
  TemporaryCertificate(const std::string& folder_prefix, const std::string& host)
      : folder_(std::filesystem::temp_directory_path() /
                (folder_prefix + "-" + std::to_string(::getpid()))) {
    auto files = net::ensureSelfSignedCertificate(folder_, host);
    if (!files) {
      ADD_FAILURE() << "cannot make the test certificate: " << files.error().message;
      return;
    }
    static_cast<net::CertificateFiles&>(*this) = *files;
  }
  ~TemporaryCertificate() {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
  TemporaryCertificate(const TemporaryCertificate&) = delete;
  TemporaryCertificate& operator=(const TemporaryCertificate&) = delete;

  // A fresh context per scripted server (its thread uses it alone).
  net::TlsContextPointer serverTls() const {
    auto context = net::makeServerTlsContext(certificate, private_key);
    EXPECT_TRUE(context.has_value());
    return context ? std::move(*context) : net::TlsContextPointer();
  }

 private:
  std::filesystem::path folder_;
};

}  // namespace bulwark::test
