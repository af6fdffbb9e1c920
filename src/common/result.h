// Result<T> and Error: how fallible operations on the data path report failure without exceptions
// (DESIGN.md "Errors"). Result is an alias over boost::system::result so that moving to
// std::expected is a one-line change here.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <utility>

namespace bulwark {

// What went wrong, in words an operator can act on. `code` is a short stable token for tests and
// logs ("io", "corrupt", "syntax", ...); `message` is the human sentence.
// Not an aggregate on purpose: C++20 parenthesised aggregate initialisation would make Error
// constructible from any single string-like value, and Result<std::string> ambiguous.
struct Error {
  Error() = default;
  Error(std::string error_code, std::string error_message)
      : code(std::move(error_code)), message(std::move(error_message)) {}
  std::string code;
  std::string message;
};

// boost::system::result calls this when value() is taken from an error; only tests and start-up
// code may do that, the data path checks has_value() first.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

template <class T>
using Result = boost::system::result<T, Error>;

inline Error makeError(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace bulwark
