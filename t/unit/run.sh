#!/bin/sh
# Build and run the image unit tests; prints TAP.
#   t/unit/run.sh                 (prove: prove --exec sh t/unit/run.sh)
#   TUNNY_VALGRIND=1 t/unit/run.sh   under valgrind, without timing checks
set -e
cd "$(dirname "$0")"
make -s all CC="${CC:-cc}" >&2
fixtures=$(mktemp -d "${TMPDIR:-/tmp}/tunny-fixtures.XXXXXX")
trap 'rm -rf "$fixtures"' EXIT
../tools/gen-fixtures "$fixtures"
if [ -n "$TUNNY_VALGRIND" ]; then
    TUNNY_BENCH=0 valgrind -q --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect ./test_image "$fixtures"
else
    ./test_image "$fixtures"
fi
