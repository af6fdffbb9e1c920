// Tests of the Domain Security decision on a client certificate (net::PartnerVerifier): a partner
// is a certificate that chains to a trusted partner CA, is in date, is fit for TLS client use and
// names a domain of the receive list (SAN dNSName, CN only without SAN). The certificates come
// from the built-in CA, or are built here where the CA would refuse to make them.
#include "net/domain_security.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <fstream>

#include "pki/certificate_authority.h"
#include "pki_test_support.h"

namespace bulwark::pki {
namespace {

using testing::Certificate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::readCertificate;
using testing::TemporaryDirectory;

TEST(PartnerDomainsNamed, ExactCaseInsensitiveMatchesOnly) {
  const std::vector<std::string> receive = {"partner.example", "second.example"};
  EXPECT_THAT(net::partnerDomainsNamed({"Partner.EXAMPLE"}, receive),
              ElementsAre("partner.example"));
  EXPECT_THAT(net::partnerDomainsNamed({"mail.partner.example"}, receive), IsEmpty());
  EXPECT_THAT(net::partnerDomainsNamed({"*.partner.example"}, receive), IsEmpty());
  EXPECT_THAT(net::partnerDomainsNamed({"partner.example.evil"}, receive), IsEmpty());
  EXPECT_THAT(net::partnerDomainsNamed({"second.example", "partner.example"}, receive),
              ElementsAre("partner.example", "second.example"));
  EXPECT_THAT(net::partnerDomainsNamed({}, receive), IsEmpty());
}

class PartnerVerifierTest : public ::testing::Test {
 protected:
  TemporaryDirectory our_directory;
  TemporaryDirectory partner_directory;
  TemporaryDirectory stranger_directory;
  PkiLayout ours{our_directory.path()};
  PkiLayout partner{partner_directory.path()};
  PkiLayout stranger{stranger_directory.path()};
  std::unique_ptr<net::PartnerVerifier> verifier;

  void SetUp() override {
    ASSERT_TRUE(createAuthority(ours, {}));
    AuthorityOptions partner_options;
    partner_options.organization = "Partner";
    ASSERT_TRUE(createAuthority(partner, partner_options));
    AuthorityOptions stranger_options;
    stranger_options.organization = "Stranger";
    ASSERT_TRUE(createAuthority(stranger, stranger_options));
    ASSERT_TRUE(trustAuthority(ours, partner.authorityCertificate()));
    auto loaded =
        net::PartnerVerifier::load(partnerTrustFiles(ours), {"Partner.Example", "second.example"});
    ASSERT_TRUE(loaded) << loaded.error().message;
    verifier = std::move(*loaded);
  }

  Certificate issue(PkiLayout& layout, const std::string& name, Usage usage) {
    auto issued = issueCertificate(layout, name, usage, {});
    EXPECT_TRUE(issued) << (issued ? "" : issued.error().message);
    return readCertificate(layout.issuedCertificate(name));
  }

  // A client certificate signed by the partner CA with exactly these names: `common_name` as
  // subject CN and `alternative_names` as SAN dNSNames (no SAN extension when empty).
  Certificate build(const std::string& common_name,
                    const std::vector<std::string>& alternative_names) {
    Certificate authority = readCertificate(partner.authorityCertificate());
    FILE* key_file = std::fopen(partner.authorityKey().c_str(), "r");
    EVP_PKEY* authority_key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
    std::fclose(key_file);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    Certificate certificate(X509_new());
    X509* leaf = certificate.get();
    X509_set_version(leaf, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(leaf), 4242);
    X509_gmtime_adj(X509_getm_notBefore(leaf), -3600);
    X509_gmtime_adj(X509_getm_notAfter(leaf), 3600);
    X509_set_pubkey(leaf, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(leaf, X509_get_subject_name(authority.get()));
    if (!alternative_names.empty()) {
      std::string value;
      for (const auto& name : alternative_names) value += (value.empty() ? "DNS:" : ",DNS:") + name;
      X509V3_CTX context;
      X509V3_set_ctx_nodb(&context);
      X509V3_set_ctx(&context, authority.get(), leaf, nullptr, nullptr, 0);
      X509_EXTENSION* extension =
          X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, value.c_str());
      X509_add_ext(leaf, extension, -1);
      X509_EXTENSION_free(extension);
    }
    X509_sign(leaf, authority_key, EVP_sha256());
    EVP_PKEY_free(key);
    EVP_PKEY_free(authority_key);
    return certificate;
  }
};

TEST_F(PartnerVerifierTest, PartnerClientCertificateNamingAListedDomainIsAPartner) {
  Certificate client = issue(partner, "partner.example", Usage::client);
  net::PartnerCheck check = verifier->checkCertificate(client.get(), nullptr);
  EXPECT_THAT(check.domains, ElementsAre("partner.example"));
  EXPECT_EQ(check.reason, "");
  EXPECT_THAT(check.subject, HasSubstr("CN=partner.example"));
  // A server certificate carries clientAuth too, so a partner MTA may show that one.
  Certificate server = issue(partner, "second.example", Usage::server);
  EXPECT_THAT(verifier->checkCertificate(server.get(), nullptr).domains,
              ElementsAre("second.example"));
}

TEST_F(PartnerVerifierTest, OurOwnCaIsTrustedByDefault) {
  Certificate client = issue(ours, "partner.example", Usage::client);
  EXPECT_THAT(verifier->checkCertificate(client.get(), nullptr).domains,
              ElementsAre("partner.example"));
}

TEST_F(PartnerVerifierTest, TrustedCertificateNamingAnUnlistedDomainIsNotAPartner) {
  Certificate client = issue(partner, "mail.partner.example", Usage::client);
  net::PartnerCheck check = verifier->checkCertificate(client.get(), nullptr);
  EXPECT_THAT(check.domains, IsEmpty());
  EXPECT_THAT(check.reason, HasSubstr("names no domain of domain_secure.receive"));
  EXPECT_THAT(check.reason, HasSubstr("mail.partner.example"));
}

TEST_F(PartnerVerifierTest, CertificateFromAnUntrustedCaIsNotAPartner) {
  Certificate forged = issue(stranger, "partner.example", Usage::client);
  net::PartnerCheck check = verifier->checkCertificate(forged.get(), nullptr);
  EXPECT_THAT(check.domains, IsEmpty());
  EXPECT_THAT(check.reason, HasSubstr("certificate not verified"));
}

TEST_F(PartnerVerifierTest, CertificateOutOfDateIsNotAPartner) {
  Certificate client = issue(partner, "partner.example", Usage::client);
  const auto later =
      std::chrono::system_clock::now() + std::chrono::hours(24 * (kDefaultLeafDays + 1));
  net::PartnerCheck expired = verifier->checkCertificate(client.get(), nullptr, later);
  EXPECT_THAT(expired.domains, IsEmpty());
  EXPECT_THAT(expired.reason, HasSubstr("expired"));
  const auto earlier = std::chrono::system_clock::now() - std::chrono::hours(24);
  net::PartnerCheck early = verifier->checkCertificate(client.get(), nullptr, earlier);
  EXPECT_THAT(early.domains, IsEmpty());
  EXPECT_THAT(early.reason, HasSubstr("not yet valid"));
}

TEST_F(PartnerVerifierTest, CommonNameCountsOnlyWithoutSubjectAlternativeNames) {
  Certificate common_name_only = build("partner.example", {});
  EXPECT_THAT(verifier->checkCertificate(common_name_only.get(), nullptr).domains,
              ElementsAre("partner.example"));
  Certificate both = build("partner.example", {"mail.partner.example"});
  EXPECT_THAT(verifier->checkCertificate(both.get(), nullptr).domains, IsEmpty());
  Certificate several = build("whatever", {"second.example", "partner.example"});
  EXPECT_THAT(verifier->checkCertificate(several.get(), nullptr).domains,
              ElementsAre("partner.example", "second.example"));
}

TEST_F(PartnerVerifierTest, NoCertificateIsNotAPartner) {
  net::PartnerCheck check = verifier->checkCertificate(nullptr, nullptr);
  EXPECT_THAT(check.domains, IsEmpty());
  EXPECT_EQ(check.reason, "no client certificate");
}

TEST(PartnerVerifierLoad, RefusesNoTrustAndUnreadableFiles) {
  auto none = net::PartnerVerifier::load({}, {"partner.example"});
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("bulwark pki trust"));
  TemporaryDirectory directory;
  const auto garbage = directory.path() / "garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  auto unreadable = net::PartnerVerifier::load({garbage}, {"partner.example"});
  ASSERT_FALSE(unreadable);
  EXPECT_THAT(unreadable.error().message, HasSubstr(garbage.string()));
  auto missing = net::PartnerVerifier::load({directory.path() / "missing.pem"}, {"a.example"});
  EXPECT_FALSE(missing);
}

TEST(ClientCertificateCheck, PairMustLoadAndMatch) {
  TemporaryDirectory directory;
  PkiLayout layout(directory.path());
  ASSERT_TRUE(createAuthority(layout, {}));
  ASSERT_TRUE(issueCertificate(layout, "example.test", Usage::client, {}));
  ASSERT_TRUE(issueCertificate(layout, "other.test", Usage::client, {}));
  EXPECT_TRUE(net::checkClientCertificate(layout.issuedCertificate("example.test"),
                                          layout.issuedKey("example.test")));
  auto mismatched = net::checkClientCertificate(layout.issuedCertificate("example.test"),
                                                layout.issuedKey("other.test"));
  ASSERT_FALSE(mismatched);
  // OpenSSL notices the mismatch when it loads the key; the message names the key file.
  EXPECT_THAT(mismatched.error().message, HasSubstr(layout.issuedKey("other.test").string()));
  EXPECT_THAT(mismatched.error().message, HasSubstr("mismatch"));
  auto missing =
      net::checkClientCertificate(directory.path() / "none.pem", layout.issuedKey("other.test"));
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("none.pem"));
}

}  // namespace
}  // namespace bulwark::pki
