// SPDX license expressions (spec/format.md §4.6, rule R28).
#include <doctest/doctest.h>

#include <string>

#include "owf/metadata.hpp"

using owf::validate_spdx_expression;

namespace {

bool valid(const std::string& expr) { return validate_spdx_expression(expr).ok(); }

}  // namespace

TEST_CASE("SPDX expressions that are valid") {
  for (const char* expr : {"MIT", "NONE", "NOASSERTION", "MIT OR Apache-2.0", "MIT AND (Apache-2.0 OR BSD-3-Clause)",
                           "GPL-2.0-or-later WITH Classpath-exception-2.0", "GPL-2.0+",
                           "GPL-2.0+ WITH Classpath-exception-2.0",  // a deprecated identifier with '+'
                           "mit", "apache-2.0 WITH llvm-exception",  // identifiers are case-insensitive
                           "LicenseRef-Custom", "LicenseRef-a.b-1", "LicenseRef-x WITH LLVM-exception",
                           "DocumentRef-doc-1:LicenseRef-x", "  MIT   AND(Apache-2.0)  ", "((MIT))"}) {
    CHECK_MESSAGE(valid(expr), expr);
  }
  CHECK(valid(std::string(64, '(') + "MIT" + std::string(64, ')')));
}

TEST_CASE("SPDX expressions that are refused") {
  for (const char* expr : {"",
                           " ",
                           "Apache 2.0",
                           "MIT AND",
                           "(MIT",
                           "MIT)",
                           "Not-A-License",
                           "LicenseRef-x+",  // '+' only after a list identifier
                           "MIT +",
                           "+",
                           "MIT++",
                           "GPL+2.0",
                           "MIT\tOR Apache-2.0",
                           "MIT\nOR Apache-2.0",
                           "MIT\xC2\xA0OR Apache-2.0",
                           "none",
                           "NoAssertion",
                           "MIT OR NONE",
                           "(NOASSERTION)",
                           "licenseref-x",
                           "LicenseRef-",
                           "LicenseRef-a_b",
                           "MIT or Apache-2.0",
                           "MIT With LLVM-exception",
                           "DocumentRef-doc:MIT",
                           "DocumentRef-:LicenseRef-x",
                           "DocumentRef-doc",
                           "MIT WITH Apache-2.0",
                           "(MIT OR Apache-2.0) WITH LLVM-exception",
                           "LLVM-exception",
                           "Apache-2.0 WITH LLVM-exception+",
                           "MIT WITH",
                           "MIT, Apache-2.0"}) {
    const auto s = validate_spdx_expression(expr);
    CHECK_MESSAGE(s.code() == owf::ErrorCode::kBadLicense, "'", expr, "'");
  }
  CHECK_FALSE(valid(std::string(65, '(') + "MIT" + std::string(65, ')')));
}

TEST_CASE("SPDX errors name the character at fault, and long expressions are shortened in the message") {
  const auto s = validate_spdx_expression("MIT OR LicenseRef-x+");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message().find("at character 7") != std::string::npos);
  const auto long_error = validate_spdx_expression(std::string(100000, 'x'));
  REQUIRE_FALSE(long_error.ok());
  CHECK(long_error.error().message().size() < 1000);
}
