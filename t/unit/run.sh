#!/bin/sh
# Build and run the image unit tests; prints TAP.
#   t/unit/run.sh [PROGRAM]       (prove: prove --exec sh t/unit/run.sh)
#                                 PROGRAM: test_image (default) or
#                                 test_image_fast, one TAP stream each
#   TUNNY_VALGRIND=1 t/unit/run.sh   under valgrind, without timing checks
#   TUNNY_ASAN=1 t/unit/run.sh       built with ASan + UBSan (in a temporary
#                                    directory), without timing checks
set -e
cd "$(dirname "$0")"
prog=${1:-test_image}
case $prog in
    test_image|test_image_fast) ;;
    *) echo "run.sh: unknown test program '$prog'" >&2; exit 2 ;;
esac
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
    ${CC:-cc} $cflags -I"$image" -o "$fixtures/$prog" "$prog.c" \
        "$fixtures/image/libtunny_image.a" \
        $(make -s --no-print-directory -C "$image" libs) -lpthread >&2
    TUNNY_BENCH=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$fixtures/$prog" "$fixtures"
elif [ -n "$TUNNY_VALGRIND" ]; then
    # JSIMD_FORCENONE: memcheck cannot follow libjpeg-turbo's SIMD and
    # reports its 1/8-scale output of 4:2:0 files as undefined (djpeg
    # alone does too; libjpeg-turbo#238), the C paths are exact.
    # --vex-guest-max-insns: dav1d's long blocks otherwise exhaust VEX's
    # temporary storage (valgrind 3.19 stops: "the 'impossible' happened")
    JSIMD_FORCENONE=1 TUNNY_BENCH=0 valgrind -q --error-exitcode=99 \
        --vex-guest-max-insns=25 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "./$prog" "$fixtures"
else
    "./$prog" "$fixtures"
fi
