#!/bin/sh
# Build and run the unit tests of src/compress; prints TAP.
#   t/unit/run-compress.sh                   (prove: t/002-unit-compress.t)
#   TUNNY_VALGRIND=1 t/unit/run-compress.sh  under valgrind, no timing report
#   TUNNY_ASAN=1 t/unit/run-compress.sh      built with ASan + UBSan, no
#                                            timing report
# The objects go to a temporary directory: nothing is left in the tree.
set -e
cd "$(dirname "$0")"
out=$(mktemp -d "${TMPDIR:-/tmp}/tunny-compress.XXXXXX")
trap 'rm -rf "$out"' EXIT
src=../../src/compress
cflags="-O2 -g -std=gnu11 -Wall -Wextra -Werror -Wpointer-arith"
if [ -n "$TUNNY_ASAN" ]; then
    cflags="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Werror"
    cflags="$cflags -fsanitize=address,undefined -fno-sanitize-recover=all"
fi
make -s -C "$src" OUT="$out" CC="${CC:-cc}" CFLAGS="$cflags" >&2
# shellcheck disable=SC2046
${CC:-cc} $cflags -I"$src" -o "$out/test_compress" test_compress.c \
    "$out/libtunny_compress.a" $(make -s -C "$src" libs) -lbrotlidec >&2
if [ -n "$TUNNY_ASAN" ]; then
    TUNNY_BENCH=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/test_compress"
elif [ -n "$TUNNY_VALGRIND" ]; then
    TUNNY_BENCH=0 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "$out/test_compress"
else
    "$out/test_compress"
fi
