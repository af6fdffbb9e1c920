// bench/rules.sh's program: CPU time to evaluate 10, 100 and 1,000 transport rules (word lists,
// patterns, and both) on messages of 4 KiB, 100 KiB and 1 MiB, in microseconds per message.
// The MIME view is built by hand (mime::parseMessage is not on main yet), so this measures the
// rules engine alone: folding, the one word automaton, the pattern set, the conditions. Inputs
// are generated here; nothing is read from the network or disk.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "policy/rule_loader.h"

namespace {

using namespace bulwark;

double cpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Pseudo-words made of syllables that also start the text's English words ("re" + "po" ...), so
// the automaton walks deep states as it would with a real word list; a word occurs in the text
// only where planted.
std::string ruleWord(int rule, int index) {
  static const char* const kSyllables[] = {"re", "po", "ta", "ne", "si",
                                           "mo", "la", "ve", "du", "ki"};
  std::string word;
  for (int number = rule * 10 + index + 1000; number > 0; number /= 10) {
    word += kSyllables[number % 10];
  }
  return word;
}

std::string makeRules(int count, const std::string& kind) {
  std::string text;
  for (int rule = 0; rule < count; ++rule) {
    text += "[[rule]]\nname = \"rule " + std::to_string(rule) + "\"\n[rule.if]\n";
    const bool words = kind == "words" || (kind == "mixed" && rule % 2 == 0);
    if (words) {
      text += "subject_or_body_contains = [";
      for (int index = 0; index < 5; ++index) {
        text += (index ? ", \"" : "\"") + ruleWord(rule, index) + (index == 4 ? " alpha\"" : "\"");
      }
      text += "]\n";
    } else {
      text += "subject_or_body_matches = ['" + ruleWord(rule, 9) + "-\\d{2,6}\\b']\n";
    }
    text +=
        "[rule.then]\nadd_header = {name = \"X-Rule\", value = \"" + std::to_string(rule) + "\"}\n";
  }
  return text;
}

// Ordinary English-like text of `size` bytes, near its end one word of rule 6 (a word rule in
// every kind) and one match of rule 7's pattern (a pattern rule in every kind).
std::string makeBody(std::size_t size) {
  static const char* const kVocabulary[] = {
      "the",     "quarterly", "report",   "shows",    "revenue", "growth", "in",     "all",
      "regions", "please",    "review",   "attached", "figures", "before", "monday", "meeting",
      "and",     "send",      "comments", "to",       "finance", "team",   "thanks", "regards"};
  std::mt19937 random(42);
  std::string body;
  body.reserve(size + 64);
  std::size_t line = 0;
  while (body.size() < size) {
    const char* word = kVocabulary[random() % (sizeof kVocabulary / sizeof *kVocabulary)];
    body += word;
    line += std::char_traits<char>::length(word) + 1;
    if (line > 72) {
      body += "\r\n";
      line = 0;
    } else {
      body += ' ';
    }
  }
  body.resize(size - 40);
  body += " " + ruleWord(6, 2) + " and " + ruleWord(7, 9) + "-1234 end.\r\n";
  body.resize(size);
  return body;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::vector<int> counts{10, 100, 1000};
  const std::vector<std::size_t> sizes{4096, 100 * 1024, 1024 * 1024};
  const std::vector<std::string> kinds{"words", "patterns", "mixed"};

  policy::Organisation organisation{{"example.com"}};
  std::printf("%-9s %6s %10s %14s %10s %9s\n", "kind", "rules", "message", "us/message", "matched",
              "load ms");
  for (const std::string& kind : kinds) {
    for (int count : counts) {
      policy::RuleEnvironment environment;
      const std::string text = makeRules(count, kind);
      const double load_start = cpuSeconds();
      policy::RuleLoad load = policy::loadRulesText(text, "bench.toml", environment);
      const double load_ms = (cpuSeconds() - load_start) * 1e3;
      if (!load.ok()) {
        std::fprintf(stderr, "%s", policy::formatRuleProblems(load.problems).c_str());
        return 1;
      }
      for (std::size_t size : sizes) {
        mime::ParsedMessage parsed;
        parsed.parts.resize(1);
        parsed.parts[0].content_type = "text/plain";
        parsed.parts[0].text = makeBody(size);
        parsed.subject = "Quarterly report";
        policy::MessageFacts facts;
        facts.sender = "alice@example.com";
        facts.from_address = "alice@example.com";
        facts.recipients = {"bob@partner.test"};
        facts.size = size;
        facts.message = &parsed;
        facts.organisation = &organisation;

        // One evaluation to warm RE2's lazily built automata, then measure.
        const std::size_t matched = load.rules->evaluate(facts).matches.size();
        std::size_t iterations = 0;
        const double start = cpuSeconds();
        double elapsed = 0;
        do {
          const policy::Evaluation evaluation = load.rules->evaluate(facts);
          if (evaluation.matches.size() != matched) {
            std::fprintf(stderr, "evaluation changed between runs\n");
            return 1;
          }
          ++iterations;
          elapsed = cpuSeconds() - start;
        } while (elapsed < seconds);
        std::printf("%-9s %6d %9zuK %14.1f %10zu %9.1f\n", kind.c_str(), count, size / 1024,
                    elapsed * 1e6 / static_cast<double>(iterations), matched, load_ms);
      }
    }
  }
  return 0;
}
