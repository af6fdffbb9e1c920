// DMARC aggregate reports (RFC 7489 6.2 report URIs, 7.1 external destinations, 7.2 and Appendix
// C the XML report). Untrusted: the rua= URIs, the DNS answers of 7.1, and every identity of an
// evaluated message (they come from the SMTP client and the message), which the XML escapes.
#include "auth/dmarc_report.h"

#include <fmt/format.h>

#include <limits>

#include "auth/tag_list.h"
#include "common/strings.h"

namespace bulwark::auth {
namespace {

int strictness(DmarcPolicy policy) {
  switch (policy) {
    case DmarcPolicy::none: return 0;
    case DmarcPolicy::quarantine: return 1;
    case DmarcPolicy::reject: return 2;
  }
  return 0;
}

// An addr-spec we are willing to put into a To field and an RCPT TO: one '@', a non-empty local
// part and a domain, nothing that could break out of a header or an SMTP command.
bool plausibleAddress(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
  for (unsigned char c : address) {
    if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' ||
        c == '(' || c == ')' || c == '\\') {
      return false;
    }
  }
  std::string_view domain = address.substr(at + 1);
  return domain.find('@') == std::string_view::npos && domain.front() != '.' &&
         domain.back() != '.' && domain.find("..") == std::string_view::npos;
}

// Length of the valid UTF-8 sequence at `text[index]` (RFC 3629 4), 0 when it is not one.
std::size_t utf8SequenceLength(std::string_view text, std::size_t index) {
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  unsigned char lead = byte(index);
  std::size_t length = 0;
  unsigned minimum = 0;
  unsigned value = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, minimum = 0x80, value = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, minimum = 0x800, value = lead & 0x0fu;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, minimum = 0x10000, value = lead & 0x07u;
  } else {
    return 0;
  }
  if (index + length > text.size()) return 0;
  for (std::size_t offset = 1; offset < length; ++offset) {
    unsigned char next = byte(index + offset);
    if ((next & 0xc0u) != 0x80u) return 0;
    value = (value << 6) | (next & 0x3fu);
  }
  if (value < minimum || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
  return length;
}

class XmlWriter {
 public:
  explicit XmlWriter(std::string& out) : out_(out) {}
  void open(std::string_view name) {
    indent();
    out_ += '<';
    out_ += name;
    out_ += ">\n";
    ++depth_;
  }
  void close(std::string_view name) {
    --depth_;
    indent();
    out_ += "</";
    out_ += name;
    out_ += ">\n";
  }
  void element(std::string_view name, std::string_view text) {
    indent();
    out_ += '<';
    out_ += name;
    out_ += '>';
    out_ += escapeXml(text);
    out_ += "</";
    out_ += name;
    out_ += ">\n";
  }

 private:
  void indent() { out_.append(2 * depth_, ' '); }
  std::string& out_;
  std::size_t depth_ = 0;
};

}  // namespace

std::optional<ReportUri> parseReportUri(std::string_view uri) {
  uri = trim(uri);
  constexpr std::string_view kScheme = "mailto:";
  if (!startsWithIgnoreCase(uri, kScheme)) return std::nullopt;
  uri.remove_prefix(kScheme.size());
  ReportUri result;
  // RFC 7489 6.2: a literal '!' starts the size; one inside the address is percent-encoded.
  if (auto bang = uri.find('!'); bang != std::string_view::npos) {
    std::string_view size = uri.substr(bang + 1);
    uri = uri.substr(0, bang);
    std::uint64_t multiplier = 1;
    if (!size.empty()) {
      switch (asciiLower(size.back())) {
        case 'k': multiplier = 1ULL << 10; break;
        case 'm': multiplier = 1ULL << 20; break;
        case 'g': multiplier = 1ULL << 30; break;
        case 't': multiplier = 1ULL << 40; break;
        default: break;
      }
      if (multiplier != 1) size.remove_suffix(1);
    }
    if (size.empty()) return std::nullopt;
    constexpr auto kMaximum = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t value = 0;
    bool overflow = false;
    for (char c : size) {
      if (c < '0' || c > '9') return std::nullopt;
      auto digit = static_cast<std::uint64_t>(c - '0');
      if (value > (kMaximum - digit) / 10) overflow = true;
      if (!overflow) value = value * 10 + digit;
    }
    if (!overflow && value > kMaximum / multiplier) overflow = true;
    // A limit beyond 64 bits limits nothing.
    result.max_size = overflow ? 0 : value * multiplier;
  }
  // RFC 6068 2: hfields after '?' (subject, body ...) are not ours to send.
  if (auto query = uri.find('?'); query != std::string_view::npos) uri = uri.substr(0, query);
  auto address = decodeHexEscapes(uri, '%');  // RFC 3986 2.1 percent-encoding
  if (!address || !plausibleAddress(*address)) return std::nullopt;
  result.address = std::move(*address);
  return result;
}

DestinationCheck checkReportDestination(dns::Resolver& resolver, std::string_view policy_domain,
                                        std::string_view destination, bool same_organization) {
  if (same_organization) return {true, "same organizational domain"};
  std::string name =
      fmt::format("{}._report._dmarc.{}", asciiLower(policy_domain), asciiLower(destination));
  auto answer = resolver.txt(name);
  switch (answer.status) {
    case dns::Status::ok: break;
    case dns::Status::nxdomain:
    case dns::Status::nodata:
      return {false, fmt::format("{} publishes no authorisation record at {} (RFC 7489 7.1)",
                                 destination, name)};
    case dns::Status::temporary:
    case dns::Status::bogus:
      return {false, fmt::format("the authorisation record {} could not be looked up: {}", name,
                                 answer.reason)};
  }
  for (const auto& text : answer.records) {
    auto tags = parseTagList(text);
    if (tags && !tags->empty() && tags->front().name == "v" && tags->front().value == "DMARC1") {
      return {true, fmt::format("authorised by {}", name)};
    }
  }
  return {false, fmt::format("{} has no record starting \"v=DMARC1\" (RFC 7489 7.1)", name)};
}

PublishedPolicy publishedPolicy(const DmarcOutcome& outcome) {
  PublishedPolicy policy;
  policy.domain = outcome.record_domain;
  if (!outcome.record) return policy;
  const DmarcRecord& record = *outcome.record;
  policy.adkim = record.strict_dkim ? "s" : "r";
  policy.aspf = record.strict_spf ? "s" : "r";
  policy.p = dmarcPolicyName(record.policy);
  // RFC 7489 6.3: sp= absent means p= applies to subdomains too.
  policy.sp = dmarcPolicyName(record.subdomain_policy.value_or(record.policy));
  if (record.nonexistent_subdomain_policy) {
    policy.np = dmarcPolicyName(*record.nonexistent_subdomain_policy);
  }
  policy.pct = record.percent;
  policy.rua = record.aggregate_addresses;
  return policy;
}

ReportRow reportRow(const DmarcEvaluation& evaluation) {
  const DmarcOutcome& outcome = evaluation.outcome;
  ReportRow row;
  row.source_ip = evaluation.source_ip;
  // Appendix C's DispositionType, DKIMResultType and SPFResultType are the RFC 8601 result
  // names the rest of the program writes, so one name function per enumeration serves both.
  row.disposition = dmarcPolicyName(outcome.disposition);
  row.dkim = outcome.dkim_aligned ? "pass" : "fail";
  row.spf = outcome.spf_aligned ? "pass" : "fail";
  // RFC 7489 6.6.4: pct= sampling applied a weaker disposition than the policy; Appendix C
  // names that override "sampled_out".
  if (outcome.result == DmarcResult::fail &&
      strictness(outcome.disposition) < strictness(outcome.policy)) {
    row.reason = "sampled_out";
  }
  row.envelope_to = evaluation.envelope_to;
  row.envelope_from = evaluation.envelope_from;
  row.header_from = evaluation.header_from;
  for (const auto& signature : evaluation.dkim) {
    row.dkim_results.push_back(
        {signature.domain, signature.selector, std::string(dkimResultName(signature.result))});
  }
  row.spf_domain = evaluation.spf_domain;
  row.spf_scope = evaluation.null_sender ? "helo" : "mfrom";
  row.spf_result = spfResultName(evaluation.spf);
  return row;
}

std::string escapeXml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t index = 0; index < text.size();) {
    auto c = static_cast<unsigned char>(text[index]);
    if (c < 0x80) {
      switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
          // XML 1.0 2.2: of the C0 controls only tab, LF and CR are characters at all.
          if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            out += "\xef\xbf\xbd";
          } else {
            out += static_cast<char>(c);
          }
      }
      ++index;
      continue;
    }
    std::size_t length = utf8SequenceLength(text, index);
    if (length == 0) {
      out += "\xef\xbf\xbd";
      ++index;
    } else {
      out.append(text.substr(index, length));
      index += length;
    }
  }
  return out;
}

std::string renderAggregateReport(const AggregateReport& report) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out.reserve(512 + report.rows.size() * 700);
  XmlWriter xml(out);
  xml.open("feedback");
  xml.element("version", "1.0");
  xml.open("report_metadata");
  xml.element("org_name", report.organization_name);
  xml.element("email", report.email);
  if (!report.extra_contact_info.empty()) {
    xml.element("extra_contact_info", report.extra_contact_info);
  }
  xml.element("report_id", report.report_id);
  xml.open("date_range");
  xml.element("begin", std::to_string(report.begin));
  xml.element("end", std::to_string(report.end));
  xml.close("date_range");
  xml.close("report_metadata");

  const PublishedPolicy& policy = report.policy;
  xml.open("policy_published");
  xml.element("domain", policy.domain);
  xml.element("adkim", policy.adkim);
  xml.element("aspf", policy.aspf);
  xml.element("p", policy.p);
  xml.element("sp", policy.sp);
  xml.element("pct", std::to_string(policy.pct));
  if (!policy.np.empty()) xml.element("np", policy.np);
  xml.close("policy_published");

  for (const ReportRow& row : report.rows) {
    xml.open("record");
    xml.open("row");
    xml.element("source_ip", row.source_ip);
    xml.element("count", std::to_string(row.count));
    xml.open("policy_evaluated");
    xml.element("disposition", row.disposition);
    xml.element("dkim", row.dkim);
    xml.element("spf", row.spf);
    if (!row.reason.empty()) {
      xml.open("reason");
      xml.element("type", row.reason);
      xml.close("reason");
    }
    xml.close("policy_evaluated");
    xml.close("row");
    xml.open("identifiers");
    if (!row.envelope_to.empty()) xml.element("envelope_to", row.envelope_to);
    xml.element("envelope_from", row.envelope_from);
    xml.element("header_from", row.header_from);
    xml.close("identifiers");
    xml.open("auth_results");
    for (const auto& dkim : row.dkim_results) {
      xml.open("dkim");
      xml.element("domain", dkim.domain);
      if (!dkim.selector.empty()) xml.element("selector", dkim.selector);
      xml.element("result", dkim.result);
      xml.close("dkim");
    }
    xml.open("spf");
    xml.element("domain", row.spf_domain);
    xml.element("scope", row.spf_scope);
    xml.element("result", row.spf_result);
    xml.close("spf");
    xml.close("auth_results");
    xml.close("record");
  }
  xml.close("feedback");
  return out;
}

}  // namespace bulwark::auth
