#!/usr/bin/env bash
# The installed package works for someone outside the source tree:
#   1. configure and build a separate tree, `cmake --install` it into a
#      DESTDIR staging directory, and check what landed there (headers, both
#      libraries, CMake package, pkg-config file, tools; no internal headers);
#   2. check the shared library's exports: every owf_* function of owf/owf.h,
#      nothing else in C, and no owf::internal symbol;
#   3. build examples/ (the C++ writer and the C forward pass) and the
#      out-of-tree consumer against the staged install with CMake, and the
#      consumer's C program with pkg-config (shared and static), then run them
#      all on a model written by the C++ example.
# A broken install rule fails here.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=/usr/local
stage=$work/stage
inst=$stage$prefix
jobs=$(nproc 2>/dev/null || echo 2)

fail() {
  echo "install check: $*" >&2
  exit 1
}

echo "-- configure, build and install into $stage"
# -O0: this build exists to be installed, not to be fast.
cmake -S "$root" -B "$work/build" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 -DCMAKE_C_FLAGS=-O0 \
  -DCMAKE_INSTALL_PREFIX=$prefix -DOWF_BUILD_TESTS=OFF -DOWF_BUILD_EXAMPLES=OFF -DOWF_BUILD_PYTHON=OFF >"$work/configure.log" ||
  { cat "$work/configure.log"; fail "configure failed"; }
cmake --build "$work/build" -j"$jobs" >"$work/build.log" 2>&1 || { tail -n 50 "$work/build.log"; fail "build failed"; }
DESTDIR=$stage cmake --install "$work/build" >"$work/install.log" || { cat "$work/install.log"; fail "install failed"; }

libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$work/build/CMakeCache.txt")
libdir=${libdir:-lib}
for f in include/owf/owf.h include/owf/owf.hpp include/owf/reader.hpp include/owf/export.hpp \
  "$libdir/libowf.a" "$libdir/libowf.so" "$libdir/cmake/owf/owfConfig.cmake" \
  "$libdir/cmake/owf/owfConfigVersion.cmake" "$libdir/cmake/owf/owfTargets.cmake" "$libdir/pkgconfig/owf.pc"; do
  [ -e "$inst/$f" ] || fail "$prefix/$f was not installed"
done
ls "$inst/$libdir"/libowf.so.* >/dev/null 2>&1 || fail "no versioned libowf.so.N"
for f in layout.hpp manifest.hpp validate.hpp owf_generated.h; do
  [ ! -e "$inst/include/owf/$f" ] || fail "internal header $f was installed"
done
if [ -f "$root/tools/CMakeLists.txt" ]; then
  built_tools=$(find "$work/build/tools" -maxdepth 2 -type f -name 'owf-*' -perm -u+x -printf '%f\n' | sort)
  for t in $built_tools; do
    [ -x "$inst/bin/$t" ] || fail "tool $t was built but not installed to $prefix/bin"
  done
  echo "tools installed: $(echo $built_tools)"
fi

echo "-- exported symbols of libowf.so"
nm -D --defined-only "$inst/$libdir/libowf.so" | awk '{print $3}' >"$work/exports.txt"
c++filt <"$work/exports.txt" >"$work/exports.demangled"
if grep -q 'owf::internal' "$work/exports.demangled"; then
  grep 'owf::internal' "$work/exports.demangled" | head -n 20 >&2
  fail "owf::internal symbols are exported"
fi
# Every function declared in owf.h is exported, and no other C symbol named owf_.
grep -oE '^OWF_C_API [^(]*\(' "$inst/include/owf/owf.h" | grep -oE 'owf_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u \
  >"$work/declared.txt"
grep -E '^owf_' "$work/exports.txt" | sed 's/@.*//' | sort -u >"$work/exported_c.txt"
[ -s "$work/declared.txt" ] || fail "found no OWF_C_API declarations in owf.h"
if ! diff -u "$work/declared.txt" "$work/exported_c.txt"; then
  fail "the C functions exported differ from those declared in owf.h (-declared +exported)"
fi
echo "$(wc -l <"$work/declared.txt") C functions exported, no owf::internal symbols"

export CMAKE_PREFIX_PATH=$inst
export PKG_CONFIG_PATH=$inst/$libdir/pkgconfig

echo "-- examples against the installed package (CMake)"
cmake -S "$root/examples" -B "$work/examples" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/examples.log" ||
  { cat "$work/examples.log"; fail "configuring examples/ against the install failed"; }
cmake --build "$work/examples" -j"$jobs" >>"$work/examples.log" 2>&1 ||
  { tail -n 50 "$work/examples.log"; fail "building examples/ against the install failed"; }
grep -q "$stage" "$work/examples/CMakeCache.txt" || fail "examples/ did not find the staged package"
model=$work/house_price.owf
"$work/examples/house_price_write" "$model"
"$work/examples/house_price_predict" "$model" | tee "$work/predict.txt"
grep -q -- '-> 476300 EUR' "$work/predict.txt" || fail "the C forward pass printed an unexpected prediction"

echo "-- out-of-tree consumer (CMake: owf::owf and owf::owf_static)"
cmake -S "$root/examples/consumer" -B "$work/consumer" >"$work/consumer.log" ||
  { cat "$work/consumer.log"; fail "configuring the consumer failed"; }
cmake --build "$work/consumer" -j"$jobs" >>"$work/consumer.log" 2>&1 ||
  { tail -n 50 "$work/consumer.log"; fail "building the consumer failed"; }
"$work/consumer/owf_list" "$model" | tee "$work/list.txt"
grep -q 'hidden.weight F32 \[4, 2\] 32 bytes' "$work/list.txt" || fail "owf_list printed unexpected output"
"$work/consumer/owf_digest" "$model"
if ldd "$work/consumer/owf_digest" | grep -q libowf; then fail "owf_digest should link libowf statically"; fi
ldd "$work/consumer/owf_list" | grep -q "$stage" || fail "owf_list does not use the staged libowf.so"

# owf.pc finds its prefix from where it lies (${pcfiledir}): the staged copy
# points into the staging directory without a sysroot.
pkg-config --cflags owf | grep -q -- "-I$inst/$libdir/pkgconfig/../../include" ||
  fail "owf.pc is not relocatable: $(pkg-config --cflags owf)"
echo "-- out-of-tree consumer (pkg-config: $(pkg-config --cflags --libs owf))"
mkdir -p "$work/pc"
make -s -C "$work/pc" -f "$root/examples/consumer/Makefile" VPATH="$root/examples/consumer" owf_list
LD_LIBRARY_PATH=$inst/$libdir "$work/pc/owf_list" "$model" >"$work/list_pc.txt"
cmp "$work/list.txt" "$work/list_pc.txt" || fail "the pkg-config build printed something else"
# Static: Libs.private and Requires.private carry the dependencies.
cc -std=c99 "$root/examples/consumer/list_tensors.c" -o "$work/pc/owf_list_static" \
  $(pkg-config --cflags owf) "$inst/$libdir/libowf.a" $(pkg-config --static --libs-only-other --libs-only-L owf) \
  $(pkg-config --static --libs owf | tr ' ' '\n' | grep -v -- '-lowf' | tr '\n' ' ')
"$work/pc/owf_list_static" "$model" >/dev/null || fail "the statically linked pkg-config build failed"
if ldd "$work/pc/owf_list_static" | grep -q libowf; then fail "owf_list_static is not static in libowf"; fi

echo "-- install into a second, non-default prefix"
other=$work/elsewhere
cmake --install "$work/build" --prefix "$other" >"$work/install2.log" || { cat "$work/install2.log"; fail "install --prefix failed"; }
flags=$(PKG_CONFIG_PATH=$other/$libdir/pkgconfig pkg-config --cflags --libs owf)
case "$flags" in *"-I$other/$libdir/pkgconfig/../../include"*"-L$other/$libdir/pkgconfig/../../$libdir"*) ;;
  *) fail "owf.pc after install --prefix $other: $flags" ;; esac
mkdir -p "$work/pc2"
PKG_CONFIG_PATH=$other/$libdir/pkgconfig make -s -C "$work/pc2" -f "$root/examples/consumer/Makefile" \
  VPATH="$root/examples/consumer" owf_list
LD_LIBRARY_PATH=$other/$libdir "$work/pc2/owf_list" "$model" >/dev/null || fail "the consumer built from $other failed"

echo "-- OWF inside another project (add_subdirectory, FetchContent): configure only"
for how in add_subdirectory FetchContent; do
  outer=$work/outer-$how
  mkdir -p "$outer"
  if [ $how = add_subdirectory ]; then
    include="add_subdirectory(\"$root\" owf)"
  else
    include="include(FetchContent)
FetchContent_Declare(owf SOURCE_DIR \"$root\")
FetchContent_MakeAvailable(owf)"
  fi
  cat >"$outer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(outer LANGUAGES C CXX)
$include
add_executable(outer_digest "$root/examples/consumer/weights_digest.cpp")
target_link_libraries(outer_digest PRIVATE owf::owf_static)
CMAKE
  cmake -S "$outer" -B "$outer/build" >"$outer/configure.log" 2>&1 ||
    { cat "$outer/configure.log"; fail "configuring a project that includes OWF by $how failed"; }
  cache=$outer/build/CMakeCache.txt
  grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$cache" || fail "$how: OWF set the outer project's build type"
  for o in OWF_BUILD_TESTS OWF_BUILD_TOOLS OWF_BUILD_EXAMPLES OWF_BUILD_PYTHON OWF_INSTALL; do
    grep -q "^$o:BOOL=OFF" "$cache" || fail "$how: $o is not OFF inside another project"
  done
  if grep -rlq --include=cmake_install.cmake 'file(INSTALL' "$outer/build"; then
    fail "$how: OWF added install rules to the outer project"
  fi
done

echo "install check passed"
