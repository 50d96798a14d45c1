#!/bin/sh
# build and run the libFuzzer harness: t/fuzz/build.sh [SECONDS]
set -e
cd "$(dirname "$0")"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I../../src fuzz_image.c ../../src/ngx_tunny_image.c \
    -ljpeg -lwebp -lwebpmux -lwebpdemux -lm -o fuzz_image
mkdir -p corpus seeds
make -s -C ../tools gen-fixtures CC=${CC:-cc}
../tools/gen-fixtures seeds
# seed: one selector byte + each small fixture
for f in seeds/*; do
    case "$f" in *big.jpg) continue ;; esac
    n=$(basename "$f")
    { printf '\002'; cat "$f"; } > "corpus/s-$n"
    { printf '\077'; cat "$f"; } > "corpus/r-$n"
done
exec ./fuzz_image -max_total_time="${1:-60}" -rss_limit_mb=2048 \
    -max_len=65536 -timeout=10 corpus
