// MIME conformance (SOURCES.md section 5), read in place from $BULWARK_TESTDATA/mime: the Stalwart
// mail-parser corpus (messages and header-field vectors), Crispin's MIME torture test and the
// MimeKit robustness corpus, through mime::parseMessage / decodeHeaderText (address vectors
// through auth::parseAddressList, the author-domain parser). Cases that encode
// another parser's choices rather than the RFCs are listed with their reason in
// mime_exceptions.txt; a listed case that passes fails the run, so the list stays true.
//
// Mapping of mail-parser's model (mail_parser::Message) onto ParsedMessage:
// - parts[0] is the message in both; Multipart [i, j] is `children` in order; a Message body is
//   our message/rfc822 part with its one child, compared with the nested message's parts[0].
// - content type: the ContentType header as type/subtype, lower-case; no header means text/plain
//   (message/rfc822 inside multipart/digest, RFC 2046 5.1.5), as in ours. Attributes are compared
//   as (lower-case name, value) lists, in order.
// - bodies: Text / Html against our `text` / `html` of text/* parts, line ends ignored (their
//   input had every CR removed; text is what a reader sees). Binary / InlineBinary against our
//   decoded `content`. A Text body of a non-text part is mail-parser's fallback for content it
//   could not decode: we must flag encoding_problem there too.
// - attachments: their `attachments` mixes what a client offers for download with alternatives
//   not chosen for display. Compared where the two models mean the same: a Binary or Message part
//   listed as attachment must be is_attachment; a Text / Html part in text_body or html_body and
//   not in attachments must not be. InlineBinary parts (shown in the body and listed) are not
//   compared for attachment-ness.
#include "auth/address_list.h"
#include "mime/header_fields.h"
#include "mime/mime_message.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include "support/testdata.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace bulwark::mime {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

using testing::readFile;
using testing::testdataRoot;

// Counts one suite's cases and prints "<suite>: N passed, N failed, N skipped".
class Suite {
 public:
  Suite(std::string name, const std::map<std::string, std::string>& exceptions)
      : name_(std::move(name)), exceptions_(exceptions) {}
  ~Suite() {
    std::cout << name_ << ": " << passed_ << " passed, " << failed_ << " failed, " << skipped_
              << " skipped\n";
  }
  Suite(const Suite&) = delete;
  Suite& operator=(const Suite&) = delete;

  void record(const std::string& id, bool passed, const std::string& detail) {
    const std::string* reason = exceptionFor(id);
    if (reason != nullptr) {
      ++skipped_;
      std::cout << "  skipped " << name_ << "/" << id << ": " << *reason << "\n";
      EXPECT_FALSE(passed) << name_ << "/" << id
                           << " is listed as an exception but passes: remove it from the list";
      return;
    }
    if (passed) {
      ++passed_;
    } else {
      ++failed_;
      ADD_FAILURE() << name_ << "/" << id << ": " << detail;
    }
  }
  // A case that does not apply to this view at all (whole suites: "suite/*").
  void skip(const std::string& id) {
    const std::string* reason = exceptionFor(id);
    EXPECT_NE(reason, nullptr) << name_ << "/" << id << " skipped without a reason";
    ++skipped_;
  }
  const std::string* exceptionFor(const std::string& id) const {
    auto exact = exceptions_.find(name_ + "/" + id);
    if (exact != exceptions_.end()) return &exact->second;
    auto whole = exceptions_.find(name_ + "/*");
    if (whole != exceptions_.end()) return &whole->second;
    return nullptr;
  }

 private:
  std::string name_;
  const std::map<std::string, std::string>& exceptions_;
  unsigned passed_ = 0;
  unsigned failed_ = 0;
  unsigned skipped_ = 0;
};

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string withoutCarriageReturns(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\r') out += c;
  }
  return out;
}

std::string shown(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 120)) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + (text.size() > 120 ? "...\"" : "\"");
}

// ---- mail-parser messages ------------------------------------------------------------------

const json::object* contentTypeHeader(const json::object& part) {
  for (const json::value& header : part.at("headers").as_array()) {
    const json::object& field = header.as_object();
    if (field.at("name") != "content_type") continue;
    const json::value& value = field.at("value");
    if (value.is_object() && value.as_object().contains("ContentType")) {
      return &value.as_object().at("ContentType").as_object();
    }
  }
  return nullptr;
}

std::set<std::int64_t> indexSet(const json::value& list) {
  std::set<std::int64_t> indexes;
  for (const json::value& index : list.as_array()) indexes.insert(index.to_number<std::int64_t>());
  return indexes;
}

class MessageComparison {
 public:
  explicit MessageComparison(const ParsedMessage& ours) : ours_(ours) {}

  // Compares their message (and everything below it) with our part `ours_index`.
  void compareMessage(const json::object& theirs, std::size_t ours_index, bool in_digest) {
    std::set<std::int64_t> text = indexSet(theirs.at("text_body"));
    std::set<std::int64_t> html = indexSet(theirs.at("html_body"));
    std::set<std::int64_t> attachments = indexSet(theirs.at("attachments"));
    for (std::int64_t index : html) text.insert(index);
    Context context{theirs.at("parts").as_array(), text, attachments};
    comparePart(context, 0, ours_index, in_digest);
  }

  const std::vector<std::string>& differences() const { return differences_; }

 private:
  struct Context {
    const json::array& parts;
    const std::set<std::int64_t>& body;
    const std::set<std::int64_t>& attachments;
  };

  void differ(const MimePart& part, const std::string& what) {
    differences_.push_back("[" + part.section + "] " + what);
  }

  void comparePart(const Context& context, std::int64_t their_index, std::size_t ours_index,
                   bool in_digest) {
    const json::object& theirs = context.parts.at(their_index).as_object();
    const MimePart& ours = ours_.parts.at(ours_index);
    // Content type and parameters.
    const json::object* type = contentTypeHeader(theirs);
    std::string expected_type = in_digest ? "message/rfc822" : "text/plain";
    std::vector<std::pair<std::string, std::string>> expected_parameters;
    if (type != nullptr) {
      const json::value& subtype = type->at("c_subtype");
      expected_type = lowerCase(std::string(type->at("c_type").as_string())) + "/" +
                      (subtype.is_string() ? lowerCase(std::string(subtype.as_string())) : "");
      const json::value* attributes = type->if_contains("attributes");
      if (attributes != nullptr && attributes->is_array()) {
        for (const json::value& attribute : attributes->as_array()) {
          expected_parameters.emplace_back(
              lowerCase(std::string(attribute.at("name").as_string())),
              std::string(attribute.at("value").as_string()));
        }
      }
    }
    if (ours.content_type != expected_type) {
      differ(ours, "content type " + ours.content_type + ", expected " + expected_type);
    }
    if (ours.parameters != expected_parameters) {
      std::string have;
      for (const auto& [name, value] : ours.parameters) have += name + "=" + value + "; ";
      std::string want;
      for (const auto& [name, value] : expected_parameters) want += name + "=" + value + "; ";
      differ(ours, "parameters {" + have + "}, expected {" + want + "}");
    }
    const json::object& body = theirs.at("body").as_object();
    const std::string kind(body.begin()->key());
    const json::value& value = body.begin()->value();
    bool encoding_problem = theirs.at("is_encoding_problem").as_bool();
    bool in_body = context.body.contains(their_index);
    bool listed = context.attachments.contains(their_index);
    if (kind == "Multipart") {
      const json::array& children = value.as_array();
      if (!ours.is_multipart || ours.children.size() != children.size()) {
        differ(ours, "expected a multipart with " + std::to_string(children.size()) +
                         " parts, have " + std::to_string(ours.children.size()) + " children");
        return;
      }
      bool digest = expected_type == "multipart/digest";
      for (std::size_t i = 0; i < children.size(); ++i) {
        comparePart(context, children[i].to_number<std::int64_t>(), ours.children[i], digest);
      }
      return;
    }
    if (kind == "Message") {
      if (!ours.is_message || ours.children.size() != 1) {
        differ(ours, "expected an attached message");
        return;
      }
      if (listed && !ours.is_attachment) differ(ours, "attached message is not an attachment");
      compareMessage(value.as_object(), ours.children[0], false);
      return;
    }
    if (!ours.children.empty()) {
      differ(ours, "expected a leaf, have " + std::to_string(ours.children.size()) + " children");
      return;
    }
    if (kind == "Text" || kind == "Html") {
      std::string expected = withoutCarriageReturns(value.as_string());
      if (!ours.content_type.starts_with("text/")) {
        // mail-parser's fallback for content it could not decode (see the mapping above).
        if (!encoding_problem) {
          differ(ours, "text body on a non-text part without an encoding problem");
        } else if (!ours.encoding_problem) {
          differ(ours, "expected an encoding problem");
        }
        return;
      }
      const std::string& have = kind == "Html" ? ours.html : ours.text;
      if (withoutCarriageReturns(have) != expected) {
        differ(ours, "text " + shown(have) + ", expected " + shown(expected));
      }
      if (in_body && !listed && ours.is_attachment) differ(ours, "body text is an attachment");
    } else {
      std::string expected;
      for (const json::value& byte : value.as_array()) {
        expected += static_cast<char>(byte.to_number<int>());
      }
      if (ours.content != expected) {
        differ(ours, "content of " + std::to_string(ours.content.size()) + " bytes, expected " +
                         std::to_string(expected.size()));
      }
      if (kind == "Binary" && listed && !ours.is_attachment) differ(ours, "not an attachment");
    }
    if (encoding_problem != ours.encoding_problem) {
      differ(ours, std::string("encoding problem ") + (ours.encoding_problem ? "flagged" : "not") +
                       ", expected " + (encoding_problem ? "flagged" : "not"));
    }
  }

  const ParsedMessage& ours_;
  std::vector<std::string> differences_;
};

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n    " + line;
  return out;
}

TEST(MimeConformance, MailParserMessages) {
  const fs::path root = testdataRoot() / "mime" / "mail-parser" / "eml";
  BULWARK_REQUIRE_FOLDER(root);
  std::map<std::string, std::string> exceptions = testing::loadExceptions("mime_exceptions.txt");
  for (const char* set : {"rfc", "legacy", "thirdparty", "malformed"}) {
    Suite suite(std::string("mail-parser/") + set, exceptions);
    std::vector<fs::path> messages;
    for (const fs::directory_entry& entry : fs::directory_iterator(root / set)) {
      if (entry.path().extension() == ".eml") messages.push_back(entry.path());
    }
    std::sort(messages.begin(), messages.end());
    for (const fs::path& file : messages) {
      fs::path expected_file = fs::path(file).replace_extension(".json");
      boost::system::error_code error;
      json::value expected = json::parse(readFile(expected_file), error);
      ASSERT_FALSE(error) << expected_file;
      // Their expectations are for the input with every CR removed (SOURCES.md).
      ParsedMessage parsed = parseMessage(withoutCarriageReturns(readFile(file)));
      std::vector<std::string> differences;
      if (parsed.status == ParsedMessage::Status::unparseable) {
        differences.push_back("unparseable: " + joined(parsed.problems));
      } else {
        MessageComparison comparison(parsed);
        comparison.compareMessage(expected.as_object(), 0, false);
        differences = comparison.differences();
      }
      suite.record(file.stem().string(), differences.empty(), joined(differences));
    }
  }
}

// ---- mail-parser header-field vectors -------------------------------------------------------

// The raw value of a vector up to the end of its field: a line break not followed by whitespace
// ends it (some vectors go on with the next field).
std::string fieldValue(std::string_view raw) {
  std::size_t at = 0;
  while (true) {
    std::size_t line_end = raw.find('\n', at);
    if (line_end == std::string_view::npos) return std::string(raw);
    std::size_t next = line_end + 1;
    if (next >= raw.size() || (raw[next] != ' ' && raw[next] != '\t')) {
      return std::string(raw.substr(0, line_end + 1));
    }
    at = next;
  }
}

TEST(MimeConformance, HeaderFieldVectors) {
  const fs::path folder = testdataRoot() / "mime" / "mail-parser" / "header-fields";
  BULWARK_REQUIRE_FOLDER(folder);
  std::map<std::string, std::string> exceptions = testing::loadExceptions("mime_exceptions.txt");
  auto load = [&](const char* name) {
    boost::system::error_code error;
    json::value vectors = json::parse(readFile(folder / name), error);
    EXPECT_FALSE(error) << name;
    return error ? json::array() : vectors.as_array();
  };
  {
    Suite suite("header-fields/unstructured", exceptions);
    json::array vectors = load("unstructured.json");
    for (std::size_t i = 0; i < vectors.size(); ++i) {
      const json::object& vector = vectors[i].as_object();
      std::string raw(vector.at("header").as_string());
      std::string expected(vector.at("expected").as_string());
      std::string have = decodeHeaderText(fieldValue(raw));
      suite.record(std::to_string(i), have == expected,
                   shown(raw) + " decoded to " + shown(have) + ", expected " + shown(expected));
    }
  }
  {
    // Each vector is the value of a Content-Type field of a one-part message; we compare the
    // type and the parameters the view exposes.
    Suite suite("header-fields/content_type", exceptions);
    json::array vectors = load("content_type.json");
    for (std::size_t i = 0; i < vectors.size(); ++i) {
      const json::object& vector = vectors[i].as_object();
      std::string raw(vector.at("header").as_string());
      const json::value& expected = vector.at("expected");
      std::string expected_type = "text/plain";  // RFC 2045 5.2: no usable Content-Type
      std::vector<std::pair<std::string, std::string>> expected_parameters;
      if (expected.is_object()) {
        const json::value& subtype = expected.at("c_subtype");
        expected_type = lowerCase(std::string(expected.at("c_type").as_string())) + "/" +
                        (subtype.is_string() ? lowerCase(std::string(subtype.as_string())) : "");
        const json::value* attributes = expected.as_object().if_contains("attributes");
        if (attributes != nullptr && attributes->is_array()) {
          for (const json::value& pair : attributes->as_array()) {
            expected_parameters.emplace_back(lowerCase(std::string(pair.at(0).as_string())),
                                             std::string(pair.at(1).as_string()));
          }
        }
      }
      std::string value = fieldValue(raw);
      if (value.empty() || value.back() != '\n') value += '\n';
      std::string message = "Content-Type:" + value + "\nbody\n";
      ParsedMessage parsed = parseMessage(message);
      std::string have_type = parsed.parts.empty() ? "" : parsed.parts[0].content_type;
      std::vector<std::pair<std::string, std::string>> have_parameters;
      if (!parsed.parts.empty()) have_parameters = parsed.parts[0].parameters;
      std::string have;
      for (const auto& [name, value] : have_parameters) have += name + "=" + value + "; ";
      std::string want;
      for (const auto& [name, value] : expected_parameters) want += name + "=" + value + "; ";
      suite.record(std::to_string(i),
                   have_type == expected_type && have_parameters == expected_parameters,
                   shown(raw) + ": " + have_type + " {" + have + "}, expected " + expected_type +
                       " {" + want + "}");
    }
  }
  // Parsed date, message-id, list and Received fields are not part of the MIME view; addresses
  // are compared in AddressVectors below.
  for (const char* name : {"date", "id", "list", "received"}) {
    Suite suite(std::string("header-fields/") + name, exceptions);
    json::array vectors = load((std::string(name) + ".json").c_str());
    for (std::size_t i = 0; i < vectors.size(); ++i) suite.skip(std::to_string(i));
  }
}

// ---- mail-parser address vectors against the author-domain parser ---------------------------

// Mapping of mail-parser's Address (List of {name, address} or Group of {name, addresses}) onto
// auth::AddressList, which has no groups of its own (group members are in `mailboxes`, counted in
// `groups`):
// - groups are flattened in order; the number of named groups must equal `groups` (mail-parser
//   puts mailboxes outside any group into a group without a name);
// - an entry without an address is a comment mail-parser kept as a mailbox; comments are CFWS
//   (RFC 5322 3.2.2), not mailboxes, so it is not compared;
// - address is local_part "@" domain; name is display_name, where a missing name is empty;
// - mail-parser appends the texts of comments to the name ("John (my dear friend)"); comments are
//   not part of the phrase (RFC 5322 3.2.2, 3.4) and ours are in AddressList::comments, so when
//   the field has comments a name of ours followed by " (" and more also matches.
struct ExpectedMailbox {
  std::string name;
  std::string address;
};

std::string jsonText(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : std::string();
}

void addExpectedMailboxes(const json::array& mailboxes, std::vector<ExpectedMailbox>& out) {
  for (const json::value& mailbox : mailboxes) {
    const json::value& address = mailbox.at("address");
    if (address.is_null()) continue;
    out.push_back({jsonText(mailbox.at("name")), jsonText(address)});
  }
}

std::string describe(const std::vector<ExpectedMailbox>& mailboxes, unsigned groups) {
  std::string out = std::to_string(groups) + " groups;";
  for (const ExpectedMailbox& mailbox : mailboxes) {
    out += " " + shown(mailbox.name) + " <" + mailbox.address + ">";
  }
  return out;
}

TEST(MimeConformance, AddressVectors) {
  const fs::path file =
      testdataRoot() / "mime" / "mail-parser" / "header-fields" / "address.json";
  BULWARK_REQUIRE_FOLDER(file.parent_path());
  std::map<std::string, std::string> exceptions = testing::loadExceptions("mime_exceptions.txt");
  boost::system::error_code error;
  json::value vectors = json::parse(readFile(file), error);
  ASSERT_FALSE(error) << file;
  Suite suite("header-fields/address", exceptions);
  for (std::size_t i = 0; i < vectors.as_array().size(); ++i) {
    const json::object& vector = vectors.as_array()[i].as_object();
    std::string raw(vector.at("header").as_string());
    const json::object& expected = vector.at("expected").as_object();
    std::vector<ExpectedMailbox> want;
    unsigned want_groups = 0;
    if (const json::value* list = expected.if_contains("List")) {
      addExpectedMailboxes(list->as_array(), want);
    } else {
      for (const json::value& group : expected.at("Group").as_array()) {
        if (!group.at("name").is_null()) ++want_groups;
        addExpectedMailboxes(group.at("addresses").as_array(), want);
      }
    }
    Result<auth::AddressList> parsed = auth::parseAddressList(unfold(fieldValue(raw)));
    if (!parsed) {
      suite.record(std::to_string(i), false,
                   shown(raw) + ": refused (" + parsed.error().message + "), expected " +
                       describe(want, want_groups));
      continue;
    }
    std::vector<ExpectedMailbox> have;
    for (const auth::Mailbox& mailbox : parsed->mailboxes) {
      have.push_back({mailbox.display_name, mailbox.local_part + "@" + mailbox.domain});
    }
    bool same = have.size() == want.size() && parsed->groups == want_groups;
    for (std::size_t m = 0; same && m < have.size(); ++m) {
      const bool commented_name = !parsed->comments.empty() && !have[m].name.empty() &&
                                  want[m].name.starts_with(have[m].name + " (");
      same = (have[m].name == want[m].name || commented_name) &&
             have[m].address == want[m].address;
    }
    suite.record(std::to_string(i), same,
                 shown(raw) + ": " + describe(have, parsed->groups) + ", expected " +
                     describe(want, want_groups));
  }
}

// ---- Crispin's torture test -----------------------------------------------------------------

TEST(MimeConformance, CrispinTortureTest) {
  const fs::path folder = testdataRoot() / "mime" / "crispin-torture-test";
  BULWARK_REQUIRE_FOLDER(folder);
  std::map<std::string, std::string> exceptions = testing::loadExceptions("mime_exceptions.txt");
  Suite suite("crispin", exceptions);
  ParsedMessage parsed = parseMessage(readFile(folder / "torture-test.eml"));
  // Damaged only by part 12.2's Content-Type without a subtype (see the exceptions file).
  EXPECT_NE(parsed.status, ParsedMessage::Status::unparseable);
  EXPECT_FALSE(parsed.limit_exceeded);
  EXPECT_EQ(parsed.problems.size(), 1u) << joined(parsed.problems);
  // Our sections of leaf and message/rfc822 parts (multiparts have no number of their own in
  // IMAP, and an attached multipart message shares its container's number).
  std::map<std::string, const MimePart*> numbered;
  for (const MimePart& part : parsed.parts) {
    if (part.is_multipart || part.section.empty()) continue;
    numbered.emplace(part.section, &part);
  }
  std::istringstream in(readFile(folder / "expected-structure.txt"));
  std::string line;
  std::set<std::string> listed;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::istringstream fields(line);
    std::string section;
    std::string type;
    fields >> section >> type;
    listed.insert(section);
    // "TEXT/PLAIN;CHARSET=US-ASCII" or "BINARY/UNKNOWN": type, then the listed parameters.
    std::string media_type = lowerCase(type.substr(0, type.find(';')));
    std::vector<std::pair<std::string, std::string>> parameters;
    for (std::size_t at = type.find(';'); at != std::string::npos;) {
      std::size_t next = type.find(';', at + 1);
      std::string parameter = type.substr(at + 1, next == std::string::npos ? next : next - at - 1);
      std::size_t equals = parameter.find('=');
      parameters.emplace_back(lowerCase(parameter.substr(0, equals)),
                              lowerCase(parameter.substr(equals + 1)));
      at = next;
    }
    // A parameter after the description ("...);NAME=Alices_PDP-10").
    std::size_t trailing = line.find(");");
    if (trailing != std::string::npos) {
      std::string parameter = line.substr(trailing + 2, line.find(' ', trailing) - trailing - 2);
      std::size_t equals = parameter.find('=');
      parameters.emplace_back(lowerCase(parameter.substr(0, equals)),
                              lowerCase(parameter.substr(equals + 1)));
    }
    auto found = numbered.find(section);
    std::string detail;
    if (found == numbered.end()) {
      detail = "no part " + section;
    } else {
      const MimePart& part = *found->second;
      if (part.content_type != media_type) {
        detail = "type " + part.content_type + ", expected " + media_type;
      }
      for (const auto& [name, value] : parameters) {
        // CHARSET=US-ASCII is the server's default (RFC 2045 5.2), not always in the message.
        bool defaulted = name == "charset" && value == "us-ascii" && part.charset.empty();
        bool present = std::any_of(part.parameters.begin(), part.parameters.end(),
                                   [&](const auto& have) {
                                     return have.first == name && lowerCase(have.second) == value;
                                   });
        if (!present && !defaulted) detail += " missing parameter " + name + "=" + value;
      }
      if (part.encoding_problem) detail += " encoding problem";
    }
    suite.record(section, detail.empty(), detail);
  }
  // Nothing more than Crispin lists (an attached single-part message's body is N.1 in both).
  for (const auto& [section, part] : numbered) {
    EXPECT_TRUE(listed.contains(section) || part->is_message)
        << "part " << section << " (" << part->content_type << ") is not in Crispin's list";
  }
}

// ---- MimeKit robustness corpus --------------------------------------------------------------

TEST(MimeConformance, MimeKitRobustness) {
  const fs::path folder = testdataRoot() / "mime" / "mimekit-messages";
  BULWARK_REQUIRE_FOLDER(folder);
  std::map<std::string, std::string> exceptions = testing::loadExceptions("mime_exceptions.txt");
  Suite suite("mimekit", exceptions);
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename() != "LICENSE") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  MimeLimits limits;
  for (const fs::path& file : files) {
    std::string name = file.filename().string();
    ParsedMessage parsed = parseMessage(readFile(file), limits);
    std::string detail;
    if (parsed.status == ParsedMessage::Status::unparseable) {
      detail = "unparseable:" + joined(parsed.problems);
    }
    if (parsed.parts.size() > limits.max_parts) detail += " more parts than the limit";
    for (const MimePart& part : parsed.parts) {
      if (part.depth > limits.max_depth) detail += " part " + part.section + " too deep";
    }
    if (parsed.limit_exceeded && parsed.problems.empty()) {
      detail += " limit exceeded without a problem";
    }
    // What the file's name promises.
    auto has = [&](std::string_view type) {
      return std::any_of(parsed.parts.begin(), parsed.parts.end(),
                         [&](const MimePart& part) { return part.content_type == type; });
    };
    // A 135 KB To: field of encoded words (it overflowed MimeKit's address parser's stack).
    if (name == "stack-overflow.txt") {
      auto to = std::find_if(parsed.headers.begin(), parsed.headers.end(),
                             [](const auto& field) { return field.first == "To"; });
      if (to == parsed.headers.end() || to->second.find("date>2017-08-20T10:08:28.617</pr") ==
                                            std::string::npos) {
        detail += " the encoded words of the To field are not decoded";
      }
    }
    if (name.starts_with("multipart-digest") && !has("multipart/digest")) {
      detail += " no multipart/digest";
    }
    if (name.starts_with("delivery-status") && !has("message/delivery-status")) {
      detail += " no message/delivery-status part";
    }
    if (name.starts_with("disposition-notification") &&
        !has("message/disposition-notification")) {
      detail += " no message/disposition-notification part";
    }
    if (name.starts_with("feedback-report") && !has("message/feedback-report")) {
      detail += " no message/feedback-report part";
    }
    if (name.starts_with("simple-embedded-message")) {
      bool embedded = std::any_of(parsed.parts.begin(), parsed.parts.end(),
                                  [](const MimePart& part) { return part.is_message; });
      if (!embedded) detail += " no attached message";
    }
    if (name.starts_with("empty-multipart")) {
      bool empty = std::any_of(parsed.parts.begin(), parsed.parts.end(), [](const MimePart& part) {
        return part.is_multipart && part.children.empty();
      });
      if (!empty) detail += " no empty multipart";
    }
    suite.record(name, detail.empty(), detail);
  }
}

}  // namespace
}  // namespace bulwark::mime
