// The SOA owner of a zone file (src/dns/zone_file.h), which names the auth-zone the resolver
// serves it as: $ORIGIN, "@", relative and absolute owners, comments, and files without a SOA.
#include "dns/zone_file.h"

#include <gtest/gtest.h>

namespace bulwark::dns {
namespace {

TEST(ZoneFileApex, SignedZoneWithAbsoluteOwners) {
  // What ldns-signzone writes: fully qualified owners, tabs, the SOA first.
  EXPECT_EQ(zoneFileApex("Example.TEST.\t300\tIN\tSOA\tns.example.test. host.example.test. 1 "
                         "3600 600 86400 300\nexample.test.\t300\tIN\tRRSIG\tSOA 13 2 300 ...\n"),
            "example.test");
}

TEST(ZoneFileApex, OriginAndAt) {
  EXPECT_EQ(zoneFileApex("; a test zone\n$ORIGIN secure.test.\n$TTL 300\n"
                         "@ IN SOA ns hostmaster ( 1 3600 600\n 86400 300 )\n"),
            "secure.test");
}

TEST(ZoneFileApex, TtlAndClassInEitherOrderAndRelativeOwner) {
  EXPECT_EQ(zoneFileApex("$ORIGIN test.\nzone 1h IN SOA a b 1 2 3 4 5\n"), "zone.test");
  EXPECT_EQ(zoneFileApex("$ORIGIN test.\nzone IN 3600 SOA a b 1 2 3 4 5\n"), "zone.test");
  EXPECT_EQ(zoneFileApex("zone.test. soa a b 1 2 3 4 5\r\n"), "zone.test");
}

TEST(ZoneFileApex, RecordsBeforeTheSoaAreSkipped) {
  EXPECT_EQ(zoneFileApex("$ORIGIN z.test.\nwww IN A 192.0.2.1\n@ IN SOA a b 1 2 3 4 5\n"),
            "z.test");
}

TEST(ZoneFileApex, RefusesWhatCannotBeNamed) {
  EXPECT_FALSE(zoneFileApex(""));
  EXPECT_FALSE(zoneFileApex("www.z.test. IN A 192.0.2.1\n"));            // no SOA at all
  EXPECT_FALSE(zoneFileApex("@ IN SOA a b 1 2 3 4 5\n"));                 // "@" without $ORIGIN
  EXPECT_FALSE(zoneFileApex("zone IN SOA a b 1 2 3 4 5\n"));              // relative, no origin
  EXPECT_FALSE(zoneFileApex("$INCLUDE other.zone\n@ IN SOA a b 1 2 3 4 5\n"));
  EXPECT_FALSE(zoneFileApex(". IN SOA a b 1 2 3 4 5\n"));                 // the root
  EXPECT_FALSE(zoneFileApex("; only a comment IN SOA\n"));
}

}  // namespace
}  // namespace bulwark::dns
