// RFC 5322 address lists; see address_list.h. A hand-written scanner: the grammar's obsolete
// forms (4.4) are where clients disagree, so every one of them is parsed and reported, not
// skipped.
#include "auth/address_list.h"

#include "auth/header_lexer.h"
#include "common/strings.h"
#include "mime/encoded_word.h"

#include <algorithm>
#include <optional>

namespace bulwark::auth {
namespace {

// atext (RFC 5322 3.2.3) and UTF8-non-ascii (RFC 6532 3.2).
bool isWordCharacter(char character) {
  return static_cast<unsigned char>(character) >= 0x80 || isAtext(character);
}

// Charsets whose encoded bytes do not show ASCII as ASCII: an '@' in them is invisible to a
// byte search but visible to the reader.
bool isOpaqueCharset(std::string_view charset) {
  std::string name = asciiLower(charset.substr(0, charset.find('*')));  // RFC 2231 language
  for (std::string_view prefix : {"utf-7", "utf7", "utf-16", "utf16", "utf-32", "utf32", "ucs-2",
                                  "ucs2", "ucs-4", "ucs4", "unicode", "csunicode"}) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

struct DecodedWord {
  std::size_t length = 0;  // bytes of "=?...?=" in the input
  std::string decoded;     // octets, in the word's charset: an '@' in them is what a reader may see
  bool opaque = false;
};

// The encoded-word starting at `text` (which starts with "=?"), or nullopt if it is not one.
// Decoded whatever its charset: a client may show even an unknown one as ASCII.
std::optional<DecodedWord> readEncodedWord(std::string_view text) {
  std::optional<mime::EncodedWord> word = mime::readEncodedWord(text, 0);
  if (!word) return std::nullopt;
  return DecodedWord{word->length, std::move(word->bytes), isOpaqueCharset(word->charset)};
}

class Parser : private HeaderLexer {
 public:
  Parser(std::string_view text, const AddressListLimits& limits)
      : HeaderLexer(text, limits.max_comment_depth), limits_(limits) {}

  Result<AddressList> parse() {
    while (true) {
      if (!skipCfws()) return failure();
      if (atEnd()) break;
      if (peek() == ',') {  // obs-addr-list: empty elements between commas
        ++position_;
        continue;
      }
      if (!parseAddress()) return failure();
      if (!skipCfws()) return failure();
      if (atEnd()) break;
      if (peek() != ',') {
        fail(std::string("unexpected '") + peek() + "' after an address");
        return failure();
      }
      ++position_;
    }
    return std::move(list_);
  }

 private:
  enum class ItemKind { atom, quoted, dot };
  struct Item {
    ItemKind kind;
    std::string text;
    bool spaced = false;  // whitespace or a comment came before it
  };

  // [CFWS], every comment's text kept for the list (RFC 5322 3.2.2).
  bool skipCfws() {
    return HeaderLexer::skipCfws([this](std::string&& comment) {
      list_.comments.push_back(decodeEncodedWords(comment, &list_.opaque_charset));
    });
  }

  // Words (atoms, quoted strings) and dots with CFWS between them: the start of a phrase or of a
  // local part; which one it was is known only from the character after it.
  std::optional<std::vector<Item>> readItems() {
    std::vector<Item> items;
    while (true) {
      const std::size_t before = position_;
      if (!skipCfws()) return std::nullopt;
      if (atEnd()) return items;
      const bool spaced = position_ != before;
      char character = peek();
      if (character == '"') {
        std::optional<std::string> quoted = readQuoted();
        if (!quoted) return std::nullopt;
        items.push_back({ItemKind::quoted, std::move(*quoted), spaced});
      } else if (character == '.') {
        ++position_;
        items.push_back({ItemKind::dot, ".", spaced});
      } else if (isWordCharacter(character)) {
        std::size_t start = position_;
        while (!atEnd() && isWordCharacter(peek())) ++position_;
        items.push_back(
            {ItemKind::atom, std::string(text_.substr(start, position_ - start)), spaced});
      } else {
        return items;
      }
    }
  }

  // phrase / obs-phrase: word *(word / "." / CFWS); one space where the field had CFWS, so an
  // encoded-word with a '.' in it ("=?utf-8?q?a=40b.example?=") stays whole.
  std::optional<std::string> displayName(const std::vector<Item>& items) {
    if (items.empty()) return std::string();
    if (items.front().kind == ItemKind::dot) {
      fail("a display name starts with '.'");
      return std::nullopt;
    }
    std::string name;
    for (const Item& item : items) {
      if (item.spaced && !name.empty()) name += ' ';
      name += item.text;
    }
    return decodeEncodedWords(name, &list_.opaque_charset);
  }

  // local-part: word *("." word) (dot-atom, quoted-string and obs-local-part alike).
  bool localPart(const std::vector<Item>& items, Mailbox& mailbox) {
    if (items.empty()) return fail("an address has no local part");
    for (std::size_t index = 0; index < items.size(); ++index) {
      const bool want_word = index % 2 == 0;
      if (want_word && items[index].kind == ItemKind::dot) {
        return fail("a local part has a misplaced '.'");
      }
      if (!want_word && items[index].kind != ItemKind::dot) {
        return fail("words before '@' without '.' between them (a display name needs <...>)");
      }
      if (items[index].kind == ItemKind::quoted) mailbox.quoted_local_part = true;
      mailbox.local_part += items[index].text;
    }
    if (items.back().kind == ItemKind::dot) return fail("a local part ends in '.'");
    return true;
  }

  // domain: dot-atom / domain-literal / obs-domain, after the '@'.
  bool parseDomain(Mailbox& mailbox) {
    if (!skipCfws()) return false;
    if (atEnd()) return fail("an address has no domain");
    if (peek() == '[') {
      std::size_t start = position_;
      while (!atEnd() && peek() != ']') {
        if (peek() == '\\') ++position_;
        ++position_;
      }
      if (atEnd()) return fail("a domain literal is not closed");
      ++position_;
      mailbox.domain = std::string(text_.substr(start, position_ - start));
      mailbox.domain_literal = true;
      return skipCfws();
    }
    std::string domain;
    while (true) {
      if (!skipCfws()) return false;
      std::size_t start = position_;
      while (!atEnd() && isWordCharacter(peek())) ++position_;
      if (start == position_) return fail("a domain has an empty label");
      domain += text_.substr(start, position_ - start);
      if (!skipCfws()) return false;
      if (atEnd() || peek() != '.') break;
      ++position_;
      domain += '.';
    }
    mailbox.domain = std::move(domain);
    return true;
  }

  bool addMailbox(Mailbox mailbox) {
    if (list_.mailboxes.size() >= limits_.max_addresses) {
      return fail("more than " + std::to_string(limits_.max_addresses) + " addresses");
    }
    list_.mailboxes.push_back(std::move(mailbox));
    return true;
  }

  // angle-addr / obs-angle-addr, the '<' at position_.
  bool parseAngleAddress(Mailbox& mailbox) {
    ++position_;
    if (!skipCfws()) return false;
    if (!atEnd() && (peek() == '@' || peek() == ',')) {
      // obs-route: *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]) ":"
      mailbox.route = true;
      while (true) {
        if (!skipCfws()) return false;
        if (atEnd()) return fail("a route is not closed");
        if (peek() == ',') {
          ++position_;
        } else if (peek() == '@') {
          ++position_;
          Mailbox hop;
          if (!parseDomain(hop)) return false;
        } else {
          break;
        }
      }
      if (peek() != ':') return fail("a route does not end in ':'");
      ++position_;
    }
    std::optional<std::vector<Item>> items = readItems();
    if (!items) return false;
    if (atEnd() || peek() != '@') {
      return fail(items->empty() ? "an empty address \"<>\"" : "an address without '@'");
    }
    if (!localPart(*items, mailbox)) return false;
    ++position_;
    if (!parseDomain(mailbox)) return false;
    if (atEnd() || peek() != '>') return fail("an address is not closed by '>'");
    ++position_;
    return true;
  }

  // mailbox = name-addr / addr-spec; `in_group` forbids a nested group.
  bool parseMailboxOrGroup(bool in_group) {
    std::optional<std::vector<Item>> items = readItems();
    if (!items) return false;
    if (atEnd()) return fail("a display name without an address");
    Mailbox mailbox;
    switch (peek()) {
      case '<': {
        std::optional<std::string> name = displayName(*items);
        if (!name) return false;
        mailbox.display_name = std::move(*name);
        if (!parseAngleAddress(mailbox)) return false;
        return addMailbox(std::move(mailbox));
      }
      case '@':
        if (!localPart(*items, mailbox)) return false;
        ++position_;
        if (!parseDomain(mailbox)) return false;
        return addMailbox(std::move(mailbox));
      case ':': {
        if (in_group) return fail("a group inside a group");
        std::optional<std::string> name = displayName(*items);
        if (!name) return false;
        if (name->empty()) return fail("a group without a name");
        ++position_;
        ++list_.groups;
        return parseGroupList();
      }
      default: return fail(std::string("unexpected '") + peek() + "'");
    }
  }

  bool parseAddress() { return parseMailboxOrGroup(false); }

  // group-list up to and including the ';' (obs-group-list allows empty elements).
  bool parseGroupList() {
    while (true) {
      if (!skipCfws()) return false;
      if (atEnd()) return fail("a group is not closed by ';'");
      if (peek() == ';') {
        ++position_;
        return true;
      }
      if (peek() == ',') {
        ++position_;
        continue;
      }
      if (!parseMailboxOrGroup(true)) return false;
      if (!skipCfws()) return false;
      if (atEnd()) return fail("a group is not closed by ';'");
      if (peek() == ',') {
        ++position_;
      } else if (peek() != ';') {
        return fail(std::string("unexpected '") + peek() + "' in a group");
      }
    }
  }

  const AddressListLimits& limits_;
  AddressList list_;
};

}  // namespace

std::string decodeEncodedWords(std::string_view text, bool* opaque_charset) {
  std::string out;
  out.reserve(text.size());
  std::size_t position = 0;
  bool after_encoded_word = false;
  while (position < text.size()) {
    if (text.substr(position).starts_with("=?")) {
      if (std::optional<DecodedWord> word = readEncodedWord(text.substr(position))) {
        if (word->opaque && opaque_charset != nullptr) *opaque_charset = true;
        out += word->decoded;
        position += word->length;
        after_encoded_word = true;
        continue;
      }
    }
    // Whitespace between two encoded-words is not shown (RFC 2047 6.2).
    if (after_encoded_word && (text[position] == ' ' || text[position] == '\t')) {
      std::size_t next = text.find_first_not_of(" \t", position);
      if (next != std::string_view::npos && text.substr(next).starts_with("=?") &&
          readEncodedWord(text.substr(next))) {
        position = next;
        continue;
      }
    }
    after_encoded_word = false;
    out += text[position++];
  }
  return out;
}

Result<AddressList> parseAddressList(std::string_view value, const AddressListLimits& limits) {
  return Parser(value, limits).parse();
}

}  // namespace bulwark::auth
