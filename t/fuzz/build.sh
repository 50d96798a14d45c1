#!/bin/sh
# Build and run the libFuzzer harness of the image library (src/image):
#
#   t/fuzz/build.sh [SECONDS [WORKDIR [TYPE]]]
#
# Builds the library archive WORKDIR/image/libtunny_image.a and
# WORKDIR/fuzz_image (clang, -fsanitize=fuzzer,address,undefined), makes
# a seed corpus from the fixture generators (t/tools/gen-fixtures
# and gen-hostile; one selector byte in front of each file, see
# fuzz_image.c), then fuzzes for SECONDS (default 60) with the new inputs
# kept in WORKDIR/corpus (it grows from run to run).  Crashes, leaks,
# timeouts (> 10 s for one input) and out-of-memory (> 2 GB) are written
# to WORKDIR/artifacts/ and make the exit status non-zero.
#
# TYPE (jpeg, webp, png, gif, avif or heic; default all): seeds of that
# decoder only (the generators' files of its extension), with a corpus,
# seeds, log and artifact prefix of its own (WORKDIR/corpus-TYPE, ...), so
# that one decoder gets the whole run; runs of different types may go at
# once once the first has built the harness.
#
#   ./fuzz_image WORKDIR/artifacts/crash-...     replays one finding
#
# WORKDIR defaults to t/fuzz.  ./ngx_tunny_module fuzz [SECONDS] runs this
# with WORKDIR=build/fuzz.
set -eu
cd "$(dirname "$0")"
secs=${1:-60}
work=${2:-.}
type=${3:-all}
case $type in
    all|jpeg|webp|png|gif|avif|heic) ;;
    *) echo "fuzz: TYPE is one of jpeg webp png gif avif heic all" >&2
       exit 2 ;;
esac
mkdir -p "$work"
work=$(cd "$work" && pwd)
# what this run owns: "" for all types, "-TYPE" for one
own=${type#all}
own=${own:+-$own}

# the library archive with the fuzzer's flags, from its own Makefile
image=../../src/image
cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined"
cflags="$cflags -fno-sanitize-recover=all"
make -s --no-print-directory -C "$image" OUT="$work/image" CC=clang \
    CFLAGS="$cflags"
clang $cflags -I"$image" fuzz_image.c "$work/image/libtunny_image.a" \
    $(make -s --no-print-directory -C "$image" libs) -o "$work/fuzz_image"

make -s -C ../tools all CC="${CC:-cc}"

# seeds: regenerated every run, read only for libFuzzer
seeds=$work/seeds$own
gen=$work/gen$own
corpus=$work/corpus$own
rm -rf "$seeds" "$gen"
mkdir -p "$seeds" "$gen/hostile" "$corpus" "$work/artifacts"
../tools/gen-fixtures "$gen" >/dev/null
# HEIC seeds when the library has libheif (gen-heic reads gen/test.icc)
if [ -x ../tools/gen-heic ] && \
   [ "$(make -s --no-print-directory -C ../tools heif)" = yes ]
then
    ../tools/gen-heic "$gen" >/dev/null
    rm -f "$gen/heic-photo.heic"
fi
../tools/gen-hostile "$gen/hostile" >/dev/null 2>&1
i=0
for f in "$gen"/* "$gen"/hostile/*; do
    [ -f "$f" ] || continue
    case "$f" in
        */MANIFEST|*/params.txt|*.icc) continue ;;
    esac
    case "$type:$f" in
        all:*|jpeg:*.jpg|jpeg:*.jpeg|webp:*.webp|png:*.png|gif:*.gif) ;;
        avif:*.avif|heic:*.heic) ;;
        *) continue ;;
    esac
    # big inputs make slow fuzzing: the generators cover them at the
    # HTTP level (t/150-image-hostile.t); libFuzzer would cut them at -max_len anyway
    [ "$(wc -c < "$f")" -le 262144 ] || continue
    # tiny files standing for work at the pixel limit (a 2000x2000 screen
    # of 1x1 frames): the limit is their point, tested by t/unit and t/118
    case "$f" in
        */anim-pixels.*) continue ;;
    esac
    i=$((i + 1))
    n=$(basename "$f")
    # two selector bytes (fuzz_image.c): resize 48x64; crop 100x100 +
    # rotate 90 + WebP out + sharpen; resize 333x7 + rotate 270 +
    # interlace with a 1000-pixel limit; PNG inputs also resize 100 wide
    # with PNG out
    { printf '\006\043'; cat "$f"; } > "$seeds/a-$n"
    { printf '\257\055'; cat "$f"; } > "$seeds/b-$n"
    { printf '\136\126'; cat "$f"; } > "$seeds/c-$n"
    case "$n" in
        *.png) { printf '\142\055'; cat "$f"; } > "$seeds/d-$n" ;;
        # GIF and WebP (animations) also resize 48x64 with WebP out
        *.gif|*.webp) { printf '\046\043'; cat "$f"; } \
                          > "$seeds/e-$n" ;;
    esac
done
[ "$i" -gt 0 ] || { echo "fuzz: no $type seeds" >&2; exit 1; }
echo "fuzz: $i $type seed files x 3 selectors, $secs s" >&2

log=$work/fuzz$own.log
prefix=$work/artifacts/${own#-}${own:+-}
before=$(ls "$work/artifacts" | grep -c "^${own#-}${own:+-}" || true)
rc=0
"$work/fuzz_image" -max_total_time="$secs" -rss_limit_mb=2048 \
    -max_len=262144 -timeout=10 -dict=image.dict -print_final_stats=1 \
    -artifact_prefix="$prefix" "$corpus" "$seeds" 2>"$log" || rc=$?
grep -E '^(stat::|INFO: Loaded|#[0-9]+ +DONE|Done [0-9]+ runs)' \
    "$log" >&2 || true
after=$(ls "$work/artifacts" | grep -c "^${own#-}${own:+-}" || true)

if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
    grep -E -A40 'ERROR: |runtime error|==ERROR|SUMMARY' "$log" \
        | head -80 >&2 || true
    echo "fuzz: FINDING (exit $rc), see ${prefix}* and $log" >&2
    exit 1
fi

echo "fuzz: no findings" >&2
