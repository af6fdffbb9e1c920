// SMTP command lines (RFC 5321 4.1.1, 4.1.2) and the ESMTP parameters of MAIL and RCPT: SIZE
// (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461),
// REQUIRETLS (RFC 8689), AUTH (RFC 4954 5); BDAT (RFC 3030 2). The line is untrusted.
#include "smtp/proto/command.h"

#include "common/dsn.h"

#include <array>
#include <charconv>
#include <vector>

#include "common/strings.h"
#include "smtp/proto/address.h"

namespace bulwark::smtp {
namespace {

// RFC 3461 4.4: ENVID is at most 100 characters.
constexpr std::size_t kMaxEnvelopeIdLength = 100;
// RFC 4422 3.1: SASL mechanism names are 1 to 20 characters.
constexpr std::size_t kMaxMechanismLength = 20;

using Result = ReplyResult<Command>;

Result failure(ReplyKind kind, std::string_view detail = {}) {
  return Result(boost::system::in_place_error, makeReply(kind, detail));
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlphaOrDigit(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isNonAscii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

bool hasNonAscii(std::string_view text) {
  for (char c : text) {
    if (isNonAscii(c)) return true;
  }
  return false;
}

std::string asciiUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

std::optional<std::uint64_t> parseDecimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!isDigit(c)) return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Space-separated words; runs of spaces count as one separator.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::string_view part : split(text, ' ')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// RFC 3461 4.2 and 4.4: ORCPT and ENVID must decode to printable US-ASCII, since they are copied
// into DSN header fields; this also keeps "+0D+0A" from injecting header lines.
bool isPrintableAscii(std::string_view text) {
  for (char c : text) {
    if (c < 32 || c > 126) return false;
  }
  return true;
}

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbName, 14> kVerbs{{
    {"HELO", Verb::helo},
    {"EHLO", Verb::ehlo},
    {"MAIL", Verb::mail},
    {"RCPT", Verb::rcpt},
    {"DATA", Verb::data},
    {"BDAT", Verb::bdat},
    {"RSET", Verb::rset},
    {"NOOP", Verb::noop},
    {"QUIT", Verb::quit},
    {"VRFY", Verb::vrfy},
    {"EXPN", Verb::expn},
    {"HELP", Verb::help},
    {"STARTTLS", Verb::starttls},
    {"AUTH", Verb::auth},
}};

std::optional<Verb> findVerb(std::string_view name) {
  for (const VerbName& entry : kVerbs) {
    if (equalsIgnoreCase(name, entry.name)) return entry.verb;
  }
  return std::nullopt;
}

// One "keyword[=value]" of RFC 5321 4.1.2 Mail-parameters / Rcpt-parameters.
struct Parameter {
  std::string keyword;  // upper-cased
  std::string_view value;
  bool has_value = false;
};

std::optional<Parameter> splitParameter(std::string_view text) {
  Parameter parameter;
  const std::size_t equals = text.find('=');
  const std::string_view keyword = text.substr(0, equals);
  // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
  if (keyword.empty() || !isAlphaOrDigit(keyword.front())) return std::nullopt;
  for (char c : keyword) {
    if (!isAlphaOrDigit(c) && c != '-') return std::nullopt;
  }
  parameter.keyword = asciiUpper(keyword);
  if (equals != std::string_view::npos) {
    parameter.has_value = true;
    parameter.value = text.substr(equals + 1);
    // esmtp-value = 1*(%d33-60 / %d62-126)
    if (parameter.value.empty()) return std::nullopt;
    for (char c : parameter.value) {
      if (c < 33 || c > 126 || c == '=') return std::nullopt;
    }
  }
  return parameter;
}

// Marks `bit` as seen; false when it already was (a duplicate parameter).
bool markSeen(unsigned& seen, unsigned bit) {
  if ((seen & bit) != 0) return false;
  seen |= bit;
  return true;
}

std::optional<Reply> parseMailParameters(const std::vector<std::string_view>& items,
                                         MailParameters& out) {
  enum : unsigned { size = 1, body = 2, utf8 = 4, tls = 8, ret = 16, envid = 32, auth = 64 };
  unsigned seen = 0;
  const Reply syntax = makeReply(ReplyKind::parameter_syntax);
  for (std::string_view item : items) {
    const std::optional<Parameter> parameter = splitParameter(item);
    if (!parameter) return syntax;
    const std::string& keyword = parameter->keyword;
    const std::string_view value = parameter->value;
    if (keyword == "SIZE") {
      if (!markSeen(seen, size) || !parameter->has_value) return syntax;
      out.size = parseDecimal(value);
      if (!out.size) return syntax;
    } else if (keyword == "BODY") {
      if (!markSeen(seen, body) || !parameter->has_value) return syntax;
      out.body = asciiUpper(value);
      if (out.body != "7BIT" && out.body != "8BITMIME" && out.body != "BINARYMIME") return syntax;
    } else if (keyword == "SMTPUTF8") {
      if (!markSeen(seen, utf8) || parameter->has_value) return syntax;
      out.smtputf8 = true;
    } else if (keyword == "REQUIRETLS") {
      if (!markSeen(seen, tls) || parameter->has_value) return syntax;
      out.require_tls = true;
    } else if (keyword == "RET") {
      if (!markSeen(seen, ret) || !parameter->has_value) return syntax;
      out.dsn_return = asciiUpper(value);
      if (out.dsn_return != "FULL" && out.dsn_return != "HDRS") return syntax;
    } else if (keyword == "ENVID") {
      if (!markSeen(seen, envid) || !parameter->has_value) return syntax;
      if (value.size() > kMaxEnvelopeIdLength) return syntax;
      const std::optional<std::string> decoded = decodeXtext(value);
      if (!decoded || !isPrintableAscii(*decoded)) return syntax;
      out.dsn_envelope_id = *decoded;
    } else if (keyword == "AUTH") {
      if (!markSeen(seen, auth) || !parameter->has_value) return syntax;
      if (value == "<>") {
        out.auth = "<>";
      } else {
        const std::optional<std::string> decoded = decodeXtext(value);
        if (!decoded || !isPrintableAscii(*decoded)) return syntax;
        out.auth = *decoded;
      }
    } else {
      return makeReply(ReplyKind::parameter_not_recognized);
    }
  }
  return std::nullopt;
}

// RFC 3461 4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE, DELAY.
std::optional<std::uint8_t> parseNotify(std::string_view value) {
  if (equalsIgnoreCase(value, "NEVER")) return notify_never;
  std::uint8_t flags = 0;
  for (std::string_view item : split(value, ',')) {
    std::uint8_t flag = 0;
    if (equalsIgnoreCase(item, "SUCCESS")) {
      flag = notify_success;
    } else if (equalsIgnoreCase(item, "FAILURE")) {
      flag = notify_failure;
    } else if (equalsIgnoreCase(item, "DELAY")) {
      flag = notify_delay;
    } else {
      return std::nullopt;  // includes NEVER in a list, and empty items
    }
    if ((flags & flag) != 0) return std::nullopt;
    flags |= flag;
  }
  return flags;
}

// RFC 3461 4.2: ORCPT=addr-type;xtext, addr-type an atom ("rfc822", "utf-8").
std::optional<std::string> parseOriginalRecipient(std::string_view value) {
  const std::size_t semicolon = value.find(';');
  if (semicolon == std::string_view::npos || semicolon == 0) return std::nullopt;
  const std::string_view type = value.substr(0, semicolon);
  constexpr std::string_view kAtomSpecials = "!#$%&'*+-/=?^_`{|}~";  // RFC 5322 3.2.3 atext
  for (char c : type) {
    if (!isAlphaOrDigit(c) && kAtomSpecials.find(c) == std::string_view::npos) return std::nullopt;
  }
  const std::optional<std::string> address = decodeXtext(value.substr(semicolon + 1));
  if (!address || address->empty() || !isPrintableAscii(*address)) return std::nullopt;
  return std::string(type) + ";" + *address;
}

std::optional<Reply> parseRcptParameters(const std::vector<std::string_view>& items,
                                         RcptParameters& out) {
  enum : unsigned { notify = 1, orcpt = 2 };
  unsigned seen = 0;
  const Reply syntax = makeReply(ReplyKind::parameter_syntax);
  for (std::string_view item : items) {
    const std::optional<Parameter> parameter = splitParameter(item);
    if (!parameter) return syntax;
    if (parameter->keyword == "NOTIFY") {
      if (!markSeen(seen, notify) || !parameter->has_value) return syntax;
      const std::optional<std::uint8_t> flags = parseNotify(parameter->value);
      if (!flags) return syntax;
      out.notify = *flags;
    } else if (parameter->keyword == "ORCPT") {
      if (!markSeen(seen, orcpt) || !parameter->has_value) return syntax;
      std::optional<std::string> original = parseOriginalRecipient(parameter->value);
      if (!original) return syntax;
      out.original_recipient = std::move(*original);
    } else {
      return makeReply(ReplyKind::parameter_not_recognized);
    }
  }
  return std::nullopt;
}

// Finds the end of "<...>" at the start of `text`, skipping quoted strings (a quoted local part
// may contain '>'). Returns the index of the closing '>' or npos.
std::size_t findPathEnd(std::string_view text) {
  if (text.empty() || text.front() != '<') return std::string_view::npos;
  bool quoted = false;
  for (std::size_t index = 1; index < text.size(); ++index) {
    const char c = text[index];
    if (quoted) {
      if (c == '\\') {
        ++index;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return index;
    }
  }
  return std::string_view::npos;
}

// MAIL FROM:<path> [params] and RCPT TO:<path> [params]; `rest` is what follows the verb's space.
Result parseTransactionCommand(Verb verb, std::string_view rest, bool smtputf8_allowed) {
  const bool is_mail = verb == Verb::mail;
  const std::string_view prefix = is_mail ? "FROM:" : "TO:";
  const ReplyKind bad_address =
      is_mail ? ReplyKind::bad_sender_address : ReplyKind::bad_recipient_address;
  if (!startsWithIgnoreCase(rest, prefix)) return failure(ReplyKind::parameter_syntax);
  rest.remove_prefix(prefix.size());
  // RFC 5321 has no space here, but many clients send one and Postfix accepts it.
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);

  const std::size_t path_end = findPathEnd(rest);
  if (path_end == std::string_view::npos) return failure(bad_address);
  const std::string_view path = rest.substr(0, path_end + 1);
  const std::string_view parameter_text = rest.substr(path_end + 1);
  if (!parameter_text.empty() && parameter_text.front() != ' ') return failure(bad_address);
  const std::vector<std::string_view> items = words(parameter_text);
  for (std::string_view item : items) {
    if (hasNonAscii(item)) return failure(ReplyKind::parameter_syntax);
  }

  Command command;
  command.verb = verb;
  std::optional<Reply> parameter_error =
      is_mail ? parseMailParameters(items, command.mail) : parseRcptParameters(items, command.rcpt);
  if (parameter_error) return Result(boost::system::in_place_error, std::move(*parameter_error));

  // RFC 6531 3.4: a non-ASCII reverse-path needs SMTPUTF8 on this very MAIL command; for RCPT the
  // caller says whether the transaction has it.
  const bool utf8_allowed = smtputf8_allowed && (!is_mail || command.mail.smtputf8);
  if (hasNonAscii(path) && !utf8_allowed) return failure(ReplyKind::smtputf8_not_allowed);

  // RFC 5321 4.1.1.3: "RCPT TO:<Postmaster>" without a domain must be accepted.
  if (!is_mail && equalsIgnoreCase(path, "<Postmaster>")) {
    command.address = std::string(path.substr(1, path.size() - 2));
    return command;
  }
  const std::optional<Mailbox> mailbox = parsePath(path, utf8_allowed);
  if (!mailbox) return failure(bad_address);
  command.address = mailbox->text();
  if (!is_mail && command.address.empty()) return failure(bad_address);  // null path is MAIL only
  return command;
}

Result parseBdat(std::string_view rest) {
  const std::vector<std::string_view> items = words(rest);
  if (items.empty() || items.size() > 2) return failure(ReplyKind::chunk_syntax);
  const std::optional<std::uint64_t> size = parseDecimal(items[0]);
  if (!size) return failure(ReplyKind::chunk_syntax);
  Command command;
  command.verb = Verb::bdat;
  command.chunk_size = *size;
  if (items.size() == 2) {
    if (!equalsIgnoreCase(items[1], "LAST")) return failure(ReplyKind::chunk_syntax);
    command.last_chunk = true;
  }
  return command;
}

// RFC 4954 4: AUTH mechanism [initial-response]; the mechanism is upper-cased (RFC 4422 3.1
// names are case-insensitive), the response is left for the SASL layer to decode.
Result parseAuth(std::string_view rest) {
  const std::vector<std::string_view> items = words(rest);
  if (items.empty() || items.size() > 2) return failure(ReplyKind::parameter_syntax);
  const std::string_view mechanism = items[0];
  if (mechanism.size() > kMaxMechanismLength) return failure(ReplyKind::parameter_syntax);
  for (char c : mechanism) {
    if (!isAlphaOrDigit(c) && c != '-' && c != '_') return failure(ReplyKind::parameter_syntax);
  }
  Command command;
  command.verb = Verb::auth;
  command.argument = asciiUpper(mechanism);
  if (items.size() == 2) {
    if (hasNonAscii(items[1])) return failure(ReplyKind::parameter_syntax);
    command.argument += ' ';
    command.argument += items[1];
  }
  return command;
}

}  // namespace

ReplyResult<Command> parseCommand(std::string_view line, bool smtputf8_allowed) {
  // RFC 5321 4.1.1: words are separated by SP only; NUL, TAB, bare CR/LF and other controls have
  // no place in a command and are what smuggling and injection attempts are made of.
  for (char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return failure(ReplyKind::syntax_error);
  }
  if (line.empty()) return failure(ReplyKind::syntax_error);

  const std::size_t space = line.find(' ');
  const std::string_view name = line.substr(0, space);
  const std::string_view rest =
      space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  const std::optional<Verb> verb = findVerb(name);
  if (!verb) return failure(ReplyKind::unrecognized_command);

  Command command;
  command.verb = *verb;
  switch (*verb) {
    case Verb::helo:
    case Verb::ehlo:
      // The argument goes into Received fields; RFC 6531 3.7.1 keeps it ASCII (A-labels).
      command.argument = std::string(trim(rest));
      if (command.argument.empty() || hasNonAscii(command.argument)) {
        return failure(ReplyKind::parameter_syntax);
      }
      return command;
    case Verb::mail:
    case Verb::rcpt: return parseTransactionCommand(*verb, rest, smtputf8_allowed);
    case Verb::data:
    case Verb::rset:
    case Verb::quit:
    case Verb::starttls:
      if (!trim(rest).empty()) return failure(ReplyKind::parameter_syntax);
      return command;
    case Verb::noop:
    case Verb::help:
    case Verb::vrfy:
    case Verb::expn: command.argument = std::string(trim(rest)); return command;
    case Verb::bdat: return parseBdat(rest);
    case Verb::auth: return parseAuth(rest);
  }
  return failure(ReplyKind::unrecognized_command);
}

}  // namespace bulwark::smtp
