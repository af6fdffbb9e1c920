// The name of the zone a zone file (RFC 1035 5.1) holds: the owner of its SOA record, which
// libunbound needs to serve the file as an auth-zone. Reads only what it needs: $ORIGIN, owner
// names, and the fields in front of the type. The file is configuration, but a mistake in it must
// give a clear start-up error, not a resolver that silently answers nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bulwark::dns {

// The SOA owner of the zone text, normalised (normaliseName); nullopt when there is no SOA record
// before any $INCLUDE, or its owner cannot be made absolute.
std::optional<std::string> zoneFileApex(std::string_view text);

}  // namespace bulwark::dns
