// Tests of the built-in CA (src/pki): what `bulwark pki init`, `issue-server`, `issue-client` and
// `trust` write — file modes, chains that verify with OpenSSL, the extensions of each kind of
// certificate — and every refusal: an existing CA or certificate, a bad name, a file that is not
// a CA certificate.
#include "pki/certificate_authority.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>

#include "pki_test_support.h"

namespace bulwark::pki {
namespace {

using testing::Certificate;
using ::testing::HasSubstr;
using testing::readCertificate;
using testing::TemporaryDirectory;

mode_t modeOf(const std::filesystem::path& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
  return status.st_mode & 07777;
}

// OpenSSL's own path validation of `leaf` against `authority` for `purpose` (X509_PURPOSE_*);
// returns the verification error, X509_V_OK when it verifies.
int verify(X509* leaf, X509* authority, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, authority);
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  X509_STORE_CTX_init(context, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(context, purpose);
  const int result = X509_verify_cert(context);
  const int error = X509_STORE_CTX_get_error(context);
  X509_STORE_CTX_free(context);
  X509_STORE_free(store);
  return result == 1 ? X509_V_OK : (error == X509_V_OK ? -1 : error);
}

std::vector<std::string> alternativeNames(X509* certificate) {
  std::vector<std::string> names;
  auto* alternatives = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  for (int index = 0; alternatives && index < sk_GENERAL_NAME_num(alternatives); ++index) {
    const GENERAL_NAME* entry = sk_GENERAL_NAME_value(alternatives, index);
    if (entry->type != GEN_DNS) continue;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(entry->d.dNSName)),
                       ASN1_STRING_length(entry->d.dNSName));
  }
  GENERAL_NAMES_free(alternatives);
  return names;
}

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  TemporaryDirectory directory;
  PkiLayout layout{directory.path()};
};

TEST_F(CertificateAuthorityTest, InitCreatesCaWithPrivateKeyMode0600) {
  AuthorityOptions options;
  options.organization = "Example Org";
  auto created = createAuthority(layout, options);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->certificate, layout.authorityCertificate());
  EXPECT_EQ(created->private_key, layout.authorityKey());
  EXPECT_EQ(modeOf(layout.authorityKey()), 0600u);
  EXPECT_EQ(modeOf(layout.authorityCertificate()), 0644u);
  EXPECT_TRUE(std::filesystem::is_directory(layout.issuedDirectory()));
  EXPECT_TRUE(std::filesystem::is_directory(layout.trustedDirectory()));

  Certificate authority = readCertificate(layout.authorityCertificate());
  ASSERT_TRUE(authority);
  EXPECT_TRUE(X509_get_extension_flags(authority.get()) & EXFLAG_CA);
  EXPECT_TRUE(X509_get_key_usage(authority.get()) & KU_KEY_CERT_SIGN);
  EXPECT_EQ(X509_check_issued(authority.get(), authority.get()), X509_V_OK);
  EXPECT_EQ(X509_get_pathlen(authority.get()), 0);
  EXPECT_THAT(created->subject, HasSubstr("CN=Example Org CA"));
  // No temporary file is left next to the results.
  for (const auto& entry : std::filesystem::directory_iterator(layout.root)) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
  }
}

TEST_F(CertificateAuthorityTest, InitRefusesToReplaceAnExistingCa) {
  ASSERT_TRUE(createAuthority(layout, {}));
  Certificate before = readCertificate(layout.authorityCertificate());
  auto again = createAuthority(layout, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "exists");
  EXPECT_THAT(again.error().message, HasSubstr("never replaced"));
  Certificate after = readCertificate(layout.authorityCertificate());
  EXPECT_EQ(X509_cmp(before.get(), after.get()), 0);
}

TEST_F(CertificateAuthorityTest, ServerCertificateChainsAndNamesItsHost) {
  ASSERT_TRUE(createAuthority(layout, {}));
  auto issued = issueCertificate(layout, "MX.Example.Test", Usage::server, {});
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(issued->certificate, layout.issuedCertificate("mx.example.test"));
  EXPECT_EQ(modeOf(issued->private_key), 0600u);

  Certificate authority = readCertificate(layout.authorityCertificate());
  Certificate leaf = readCertificate(issued->certificate);
  ASSERT_TRUE(authority && leaf);
  EXPECT_EQ(verify(leaf.get(), authority.get(), X509_PURPOSE_SSL_SERVER), X509_V_OK);
  // An MTA shows its server certificate when it connects out, too.
  EXPECT_EQ(verify(leaf.get(), authority.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(alternativeNames(leaf.get()), std::vector<std::string>{"mx.example.test"});
  EXPECT_EQ(X509_check_host(leaf.get(), "mx.example.test", 0, 0, nullptr), 1);
  EXPECT_FALSE(X509_get_extension_flags(leaf.get()) & EXFLAG_CA);
  const std::uint32_t usages = X509_get_extended_key_usage(leaf.get());
  EXPECT_TRUE(usages & XKU_SSL_SERVER);
  EXPECT_TRUE(usages & XKU_SSL_CLIENT);
}

TEST_F(CertificateAuthorityTest, ClientCertificateIsForClientAuthenticationOnly) {
  ASSERT_TRUE(createAuthority(layout, {}));
  IssueOptions options;
  options.key_type = KeyType::rsa_2048;
  options.days = 30;
  auto issued = issueCertificate(layout, "example.test", Usage::client, options);
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(modeOf(issued->private_key), 0600u);
  Certificate authority = readCertificate(layout.authorityCertificate());
  Certificate leaf = readCertificate(issued->certificate);
  ASSERT_TRUE(authority && leaf);
  EXPECT_EQ(verify(leaf.get(), authority.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(verify(leaf.get(), authority.get(), X509_PURPOSE_SSL_SERVER),
            X509_V_ERR_INVALID_PURPOSE);
  EXPECT_EQ(alternativeNames(leaf.get()), std::vector<std::string>{"example.test"});
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf.get())), EVP_PKEY_RSA);
  // 30 days from now (within the hour of clock-skew margin and the test's own run time).
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(leaf.get())), 1);
  EXPECT_TRUE(days == 29 || days == 30) << days;
}

TEST_F(CertificateAuthorityTest, SerialsAreRandomAndDistinct) {
  ASSERT_TRUE(createAuthority(layout, {}));
  ASSERT_TRUE(issueCertificate(layout, "a.example.test", Usage::server, {}));
  ASSERT_TRUE(issueCertificate(layout, "b.example.test", Usage::server, {}));
  Certificate first = readCertificate(layout.issuedCertificate("a.example.test"));
  Certificate second = readCertificate(layout.issuedCertificate("b.example.test"));
  ASSERT_TRUE(first && second);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(first.get()), X509_get0_serialNumber(second.get())),
      0);
  // 16 random bytes, positive: at least 15 significant bytes almost surely, never negative.
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(first.get()), nullptr);
  EXPECT_GE(BN_num_bytes(serial), 15);
  EXPECT_FALSE(BN_is_negative(serial));
  BN_free(serial);
}

TEST_F(CertificateAuthorityTest, IssueRefusesBadNamesExistingFilesAndAMissingCa) {
  auto without_ca = issueCertificate(layout, "mx.example.test", Usage::server, {});
  ASSERT_FALSE(without_ca);
  EXPECT_THAT(without_ca.error().message, HasSubstr("bulwark pki init"));

  ASSERT_TRUE(createAuthority(layout, {}));
  for (const char* name : {"", "../etc/passwd", "a/b", ".hidden", "-x.example", "a..b",
                           "mx.example.test.", "bad_name.example", "*.example.test"}) {
    auto refused = issueCertificate(layout, name, Usage::server, {});
    EXPECT_FALSE(refused) << name;
    if (!refused) continue;
    EXPECT_EQ(refused.error().code, "invalid") << name;
  }
  EXPECT_TRUE(std::filesystem::is_empty(layout.issuedDirectory()));

  IssueOptions too_long;
  too_long.days = kMaximumDays + 1;
  EXPECT_FALSE(issueCertificate(layout, "mx.example.test", Usage::server, too_long));
  IssueOptions zero;
  zero.days = 0;
  EXPECT_FALSE(issueCertificate(layout, "mx.example.test", Usage::server, zero));

  ASSERT_TRUE(issueCertificate(layout, "mx.example.test", Usage::server, {}));
  Certificate before = readCertificate(layout.issuedCertificate("mx.example.test"));
  auto again = issueCertificate(layout, "mx.example.test", Usage::client, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "exists");
  Certificate after = readCertificate(layout.issuedCertificate("mx.example.test"));
  EXPECT_EQ(X509_cmp(before.get(), after.get()), 0);
}

class TrustTest : public CertificateAuthorityTest {
 protected:
  TemporaryDirectory partner_directory;
  PkiLayout partner{partner_directory.path()};

  void SetUp() override {
    ASSERT_TRUE(createAuthority(layout, {}));
    AuthorityOptions options;
    options.organization = "Partner Example";
    ASSERT_TRUE(createAuthority(partner, options));
  }

  std::filesystem::path write(const std::string& name, const std::string& content) {
    auto path = directory.path() / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(TrustTest, PartnerCaIsCopiedIntoTrustedAndListedForVerification) {
  auto trusted = trustAuthority(layout, partner.authorityCertificate());
  ASSERT_TRUE(trusted) << trusted.error().message;
  EXPECT_EQ(trusted->certificate.parent_path(), layout.trustedDirectory());
  EXPECT_THAT(trusted->certificate.filename().string(), HasSubstr("partner-example-ca-"));
  EXPECT_THAT(trusted->subject, HasSubstr("CN=Partner Example CA"));
  Certificate original = readCertificate(partner.authorityCertificate());
  Certificate copy = readCertificate(trusted->certificate);
  ASSERT_TRUE(copy);
  EXPECT_EQ(X509_cmp(original.get(), copy.get()), 0);
  EXPECT_EQ(partnerTrustFiles(layout), (std::vector<std::filesystem::path>{
                                           layout.authorityCertificate(), trusted->certificate}));

  auto again = trustAuthority(layout, partner.authorityCertificate());
  ASSERT_FALSE(again);
  EXPECT_THAT(again.error().message, HasSubstr("already trusted"));

  auto listed = listCertificates(layout);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].role, "authority");
  EXPECT_EQ((*listed)[1].role, "trusted");
}

TEST_F(TrustTest, RefusesWhatIsNotOneSelfSignedCaCertificate) {
  ASSERT_TRUE(issueCertificate(partner, "mx.partner.example", Usage::server, {}));
  struct Case {
    std::filesystem::path file;
    std::string expected;
  };
  std::ifstream partner_ca(partner.authorityCertificate());
  const std::string ca_text((std::istreambuf_iterator<char>(partner_ca)),
                            std::istreambuf_iterator<char>());
  std::ifstream own_ca(layout.authorityCertificate());
  const std::string own_text((std::istreambuf_iterator<char>(own_ca)),
                             std::istreambuf_iterator<char>());
  const std::vector<Case> cases = {
      {partner.issuedCertificate("mx.partner.example"), "is not a CA certificate"},
      {partner.authorityKey(), "holds a private key"},
      {write("garbage.pem", "this is not a certificate\n"), "is not a PEM certificate"},
      {write("empty.pem", ""), "is not a PEM certificate"},
      {write("two.pem", ca_text + own_text), "more than one certificate"},
      {directory.path() / "missing.pem", "does not exist"},
      {directory.path(), "not a regular file"},
      {write("large.pem", std::string(2 * 1024 * 1024, 'A')), "far too large"},
  };
  for (const Case& entry : cases) {
    auto refused = trustAuthority(layout, entry.file);
    ASSERT_FALSE(refused) << entry.file;
    EXPECT_THAT(refused.error().message, HasSubstr(entry.expected)) << entry.file;
  }
  EXPECT_TRUE(std::filesystem::is_empty(layout.trustedDirectory()));
}

TEST(PkiNames, HostAndDomainNamesOnly) {
  EXPECT_EQ(nameProblem("example.test"), "");
  EXPECT_EQ(nameProblem("mx-1.Example.test"), "");
  EXPECT_NE(nameProblem("exa mple.test"), "");
  EXPECT_NE(nameProblem("x/../../y"), "");
  EXPECT_NE(nameProblem(std::string(64, 'a') + ".test"), "");
  std::string long_name;
  while (long_name.size() < 254) long_name += "a.";
  long_name += "test";
  EXPECT_NE(nameProblem(long_name), "");
}

}  // namespace
}  // namespace bulwark::pki
