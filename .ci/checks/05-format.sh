#!/usr/bin/env bash
# Every C and C++ file of the project is formatted as .clang-format says
# (Debian's clang-format 14); the output lists the files that are not.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' 2>/dev/null ||
  find lib tools tests fuzz bench examples python -name '*.[ch]' -o -name '*.[ch]pp')
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning:.*/\1/p' | sort -u)
if [ -n "$bad" ]; then
  echo "not formatted with clang-format (run: clang-format -i FILE):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted"
