#!/bin/sh
# Build and run the image unit tests; prints TAP.
#   t/unit/run.sh                 (prove: prove --exec sh t/unit/run.sh)
#   TUNNY_VALGRIND=1 t/unit/run.sh   under valgrind, without timing checks
#   TUNNY_ASAN=1 t/unit/run.sh       built with ASan + UBSan (in a temporary
#                                    directory), without timing checks
set -e
cd "$(dirname "$0")"
make -s all CC="${CC:-cc}" >&2
fixtures=$(mktemp -d "${TMPDIR:-/tmp}/tunny-fixtures.XXXXXX")
trap 'rm -rf "$fixtures"' EXIT
../tools/gen-fixtures "$fixtures"
make -s -C ../tools all CC="${CC:-cc}" >&2
# the HEIC fixtures, when the library is built with libheif
if [ "$(make -s --no-print-directory -C ../tools heif)" = yes ]; then
    ../tools/gen-heic "$fixtures"
fi
mkdir -p "$fixtures/hostile"
../tools/gen-hostile "$fixtures/hostile" 2>/dev/null
if [ -n "$TUNNY_ASAN" ]; then
    # the library's Makefile builds its archive with the sanitizers in the
    # temporary directory: the plain build of t/unit stays as it is
    image=../../src/image
    cflags="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Werror"
    cflags="$cflags -fsanitize=address,undefined -fno-sanitize-recover=all"
    make -s --no-print-directory -C "$image" OUT="$fixtures/image" \
        CC="${CC:-cc}" CFLAGS="$cflags" >&2
    ${CC:-cc} $cflags -I"$image" -o "$fixtures/test_image" test_image.c \
        "$fixtures/image/libtunny_image.a" \
        $(make -s --no-print-directory -C "$image" libs) -lpthread >&2
    TUNNY_BENCH=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$fixtures/test_image" "$fixtures"
elif [ -n "$TUNNY_VALGRIND" ]; then
    TUNNY_BENCH=0 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect ./test_image "$fixtures"
else
    ./test_image "$fixtures"
fi
