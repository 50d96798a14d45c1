#!/usr/bin/env bash
# ./ngx_tunny_module bench quality
#
# The quality of tunny's thumbnails against a reference: the full-size
# decode of the same JPEG resized by ImageMagick's Lanczos-3
# (convert -filter Lanczos -resize WxH!, the size tunny made, then the same
# centre cut for crop), written with 16 bits a sample: ImageMagick's
# -depth 8 truncates its 16-bit values: a reference half a level too dark
# (tunny's PSNR-Y at fit 1024: 52.6 dB against it, 60.8 dB against the
# exact values); both compared as decoded pixels, no re-encode:
# tunny's are the pixels its encoder would get (t/bench/quality/tunny-quality,
# linked with src/image).  Corpus: the photo-like JPEGs of the image bench
# (t/bench/image.sh makes them the same way, cached in the same place),
# plus a zone plate and fine stripes made by the tool, as q95 JPEGs.
# Cases: fit 256 (resize 256 256), fit 512 (the pixels of the image
# bench's WebP and AVIF outputs), fit 1024, crop 300 (crop 300 300).
# Printed per case: SSIM-Y and PSNR-Y, median and worst, the detail kept
# (Laplacian energy of the output over the reference's rounded to 8 bits,
# median and worst)
# and, for tunny, the median size of its q80 JPEG and its time per image
# (CPU ms, the whole ngx_tunny_image_process() to that JPEG, one thread).
# If sharp is installed by the image bench (build/bench-node), its output
# is measured against the same reference.
#
#   QUALITY_IMAGE=DIR   the image library to measure (default src/image),
#                       e.g. an older tree's, for before/after numbers
#                       (it needs ngx_tunny_image_pixels())
#   QUALITY_OUT=DIR     where the tool and the outputs go (build/quality)
#   BENCH_IMAGES=N      photos of the corpus (default 32)
#   BENCH_COLOUR_IMAGES=N  photos of the colour part (default 8)
#   BENCH_QUALITY_PARTS="geometry colour"  the parts to run (default both)
#
# The colour part: the first photos converted to Adobe RGB and ProPhoto
# (lcms2, profiles embedded) and to CMYK (with a CMYK profile), thumbnails
# by tunny (tunny_image_colour srgb, the colour step before the resampler
# as shipped, and after it for comparison: "late") and sharp, against the
# full-size decode through the profile to sRGB (lcms2, floating point)
# resized by the same Lanczos-3: CIEDE2000 median of the per-image means
# and the worst 95th percentile, CPU ms of the pixels (decode, colour,
# resize), q80 JPEG bytes of tunny (srgb and keep) and sharp; then
# cmsCreateTransform's cost and the transform's ns per pixel.

set -euo pipefail

: "${BUILD:?run through ./ngx_tunny_module bench quality}"
: "${TOP:?}"
NIMG=${BENCH_IMAGES:-32}
CORPUS=$BUILD/bench-corpus
IMAGE=${QUALITY_IMAGE:-$TOP/src/image}
OUT=${QUALITY_OUT:-$BUILD/quality}
WORK=$OUT/work
TOOL=$OUT/tunny-quality
SHARP=$BUILD/bench-node/node_modules/sharp

say() { printf '%s\n' "$*" >&2; }

CONVERT=
for c in /usr/bin/convert-im6.q16 /usr/bin/convert; do
    if [ -x "$c" ] && "$c" -version 2>/dev/null | grep -q ImageMagick; then
        CONVERT=$c
        break
    fi
done
if [ -z "$CONVERT" ]; then
    [ "$(id -u)" -eq 0 ] || { say "bench quality: install imagemagick"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends imagemagick >&2
    CONVERT=/usr/bin/convert-im6.q16
fi

make -s -C "$TOP/t/bench/quality" IMAGE="$IMAGE" OUT="$OUT" >&2

# the photos: the image bench's corpus (its make_image), made if missing
if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "v1 $NIMG" ]; then
    eval "$(sed -n '/^make_image()/,/^}/p' "$TOP/t/bench/image.sh")"
    say "bench quality: making $NIMG photo-like 2000x1500 JPEGs in $CORPUS"
    rm -rf "$CORPUS"
    mkdir -p "$CORPUS"
    export -f make_image
    export CONVERT
    seq 1 "$NIMG" | xargs -P "$(nproc)" -I{} \
        bash -c 'make_image {} "$0/img{}.jpg"' "$CORPUS"
    echo "v1 $NIMG" > "$CORPUS/.stamp"
fi

rm -rf "$WORK"
mkdir -p "$WORK"
"$TOOL" gen zoneplate 2048 1365 "$WORK/zoneplate.pgm"
"$TOOL" gen stripes 2048 1365 "$WORK/stripes.pgm"
"$CONVERT" "$WORK/zoneplate.pgm" -quality 95 "$WORK/zoneplate.jpg"
"$CONVERT" "$WORK/stripes.pgm" -quality 95 "$WORK/stripes.jpg"

inputs=("$CORPUS"/img*.jpg "$WORK/zoneplate.jpg" "$WORK/stripes.jpg")

# sharp, pinned as in the image bench (same directory): fit inside / cover
# + centre; without node and npm the bench runs without it
have_sharp=
if command -v node >/dev/null && command -v npm >/dev/null; then
    # shellcheck source=t/bench/lib.sh
    . "$TOP/t/bench/lib.sh"
    if sharp_install "$BUILD/bench-node" "${BENCH_SHARP_VERSION:-0.35.5}" \
        "bench quality" && [ -d "$SHARP" ]
    then
        have_sharp=1
    fi
fi

sharp_run() {  # OP W H IN OUT.ppm
    NODE_PATH=$BUILD/bench-node/node_modules node -e '
        const sharp = require("sharp"), fs = require("fs");
        const [op, w, h, inp, out] = process.argv.slice(1);
        sharp(inp).resize(+w, +h, {fit: op === "crop" ? "cover" : "inside",
                                   kernel: "lanczos3"})
            .raw().toBuffer({resolveWithObject: true})
            .then(({data, info}) => {
                if (info.channels !== 3 && info.channels !== 1) throw 1;
                fs.writeFileSync(out, Buffer.concat([Buffer.from(
                    `P${info.channels === 1 ? 5 : 6}\n` +
                    `${info.width} ${info.height}\n255\n`), data]));
            });' "$@"
}

# median FILE COL
median() {
    sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
        END { print v[int((NR + 1) / 2)] }'
}

# stats FILE COL: "median worst" of a column (worst: the smallest)
stats() {
    sort -g -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
        END { printf "%.4f %.4f", v[int((NR + 1) / 2)], v[1] }'
}

PARTS=${BENCH_QUALITY_PARTS:-geometry colour}
GEOMETRY_CASES=
case " $PARTS " in *" geometry "*)
    GEOMETRY_CASES="fit 256 256|fit 512 512|fit 1024 1024|crop 300 300"
    printf '%-10s %-9s %15s %15s %15s %7s %6s\n' case who \
        'SSIM-Y med/min' 'PSNR-Y med/min' 'detail med/min' 'bytes' 'ms' ;;
esac

IFS='|' read -r -a geometry_cases <<< "$GEOMETRY_CASES"
for c in "${geometry_cases[@]}"; do
    set -- $c
    op=$1 w=$2 h=$3
    : > "$WORK/tunny.txt"
    : > "$WORK/sharp.txt"

    for in in "${inputs[@]}"; do
        b=$WORK/$(basename "$in" .jpg)-$op$w
        read -r ow oh rw rh cx cy bytes ms pms < <("$TOOL" run "$op" "$w" \
                                        "$h" "$in" "$b.tunny.ppm")
        "$CONVERT" "$in" -filter Lanczos -resize "${rw}x${rh}!" \
            -crop "${ow}x${oh}+${cx}+${cy}" +repage -depth 16 \
            "ppm:$b.ref.ppm"
        echo "$("$TOOL" cmp "$b.ref.ppm" "$b.tunny.ppm") $bytes $ms" \
            >> "$WORK/tunny.txt"

        if [ -n "$have_sharp" ]; then
            sharp_run "$op" "$w" "$h" "$in" "$b.sharp.ppm"
            # sharp may round a size the other way: its own reference then
            if ! "$TOOL" cmp "$b.ref.ppm" "$b.sharp.ppm" \
                    >> "$WORK/sharp.txt" 2>/dev/null
            then
                read -r sw sh < <(head -2 "$b.sharp.ppm" | tail -1)
                "$CONVERT" "$in" -filter Lanczos \
                    -resize "${sw}x${sh}$([ "$op" = crop ] && echo '^')" \
                    -gravity center -extent "${sw}x${sh}" -depth 16 \
                    "ppm:$b.sref.ppm"
                "$TOOL" cmp "$b.sref.ppm" "$b.sharp.ppm" >> "$WORK/sharp.txt"
            fi
        fi
    done

    printf '%-10s %-9s %15s %15s %15s %7s %6s\n' "$op $w" tunny \
        "$(stats "$WORK/tunny.txt" 1)" "$(stats "$WORK/tunny.txt" 2)" \
        "$(stats "$WORK/tunny.txt" 3)" "$(median "$WORK/tunny.txt" 4)" \
        "$(median "$WORK/tunny.txt" 5)"

    if [ -n "$have_sharp" ]; then
        printf '%-10s %-9s %15s %15s %15s %7s %6s\n' "$op $w" sharp \
            "$(stats "$WORK/sharp.txt" 1)" "$(stats "$WORK/sharp.txt" 2)" \
            "$(stats "$WORK/sharp.txt" 3)" - -
        # photo by photo (the charts left out): tunny's SSIM-Y minus
        # sharp's, the worst photo and how many are below sharp's
        paste <(printf '%s\n' "${inputs[@]##*/}") "$WORK/tunny.txt" \
                "$WORK/sharp.txt" \
            | grep -Ev '^(zoneplate|stripes)' \
            | awk -v c="$op $w" '{
                  d = $2 - $7; n++
                  if (d < 0) below++
                  if (n == 1 || d < worst) { worst = d; f = $1 } }
                END { printf "%-10s %-9s worst photo %+.4f (%s), " \
                             "%d of %d below sharp\n",
                             c, "vs sharp", worst, f, below + 0, n }'
    fi

    # the synthetic charts on their own: the aliasing cases
    paste <(printf '%s\n' "${inputs[@]##*/}") "$WORK/tunny.txt" \
        | grep -E '^(zoneplate|stripes)' \
        | awk -v c="$op $w" '{ printf "%-10s %-9s %15s %15s %15s %7s\n",
                                 c, substr($1, 1, 9), $2, $3, $4, $5 }'
done


# --- colour ------------------------------------------------------------------

case " $PARTS " in *" colour "*) ;; *) exit 0 ;; esac

NCOL=${BENCH_COLOUR_IMAGES:-8}
CW=$WORK/colour
mkdir -p "$CW"

sharp_jpeg() {  # W H IN OUT.ppm: prints the bytes of sharp's q80 JPEG
    NODE_PATH=$BUILD/bench-node/node_modules node -e '
        const sharp = require("sharp"), fs = require("fs");
        const [w, h, inp, out] = process.argv.slice(1);
        const s = () => sharp(inp).resize(+w, +h, {fit: "inside",
                                                   kernel: "lanczos3"});
        Promise.all([s().jpeg({quality: 80}).toBuffer(),
                     s().raw().toBuffer({resolveWithObject: true})])
            .then(([j, {data, info}]) => {
                if (info.channels !== 3) throw 1;
                fs.writeFileSync(out, Buffer.concat([Buffer.from(
                    `P6\n${info.width} ${info.height}\n255\n`), data]));
                console.log(j.length);
            });' "$@"
}

say "bench quality: colour part, $NCOL photos x Adobe RGB, ProPhoto, CMYK"
printf '\n%-10s %-9s %-8s %13s %13s %11s %9s %9s %9s\n' case source who \
    'dE00 med' 'dE00 p95 max' 'ms pixels' 'bytes' 'keep' 'sharp'

for prof in adobe prophoto cmyk; do
    for i in $(seq 1 "$NCOL"); do
        src=$CORPUS/img$i.jpg
        [ -f "$src" ] || continue
        "$TOOL" colourize "$prof" "$src" "$CW/$prof-$i.jpg"
        "$TOOL" tosrgb "$CW/$prof-$i.jpg" "$CW/$prof-$i.full.ppm"
    done
done

for c in "fit 256 256" "fit 1024 1024"; do
    set -- $c
    op=$1 w=$2 h=$3
    for prof in adobe prophoto cmyk; do
        : > "$CW/tunny.txt"
        : > "$CW/late.txt"
        : > "$CW/sharp.txt"
        for i in $(seq 1 "$NCOL"); do
            in=$CW/$prof-$i.jpg
            [ -f "$in" ] || continue
            b=$CW/$prof-$i-$w
            read -r ow oh _ _ _ _ bytes _ pms < <("$TOOL" run "$op" "$w" \
                "$h" "$in" "$b.tunny.ppm" srgb)
            read -r _ _ _ _ _ _ _ _ pms_l < <("$TOOL" run "$op" "$w" "$h" \
                "$in" "$b.late.ppm" srgb late)
            read -r _ _ _ _ _ _ keep _ _ < <("$TOOL" run "$op" "$w" "$h" \
                "$in" "$b.keep.ppm" keep)
            "$CONVERT" "$CW/$prof-$i.full.ppm" -filter Lanczos \
                -resize "${ow}x${oh}!" -depth 16 "ppm:$b.ref.ppm"
            echo "$("$TOOL" de "$b.ref.ppm" "$b.tunny.ppm") $pms $bytes $keep" \
                >> "$CW/tunny.txt"
            echo "$("$TOOL" de "$b.ref.ppm" "$b.late.ppm") $pms_l" \
                >> "$CW/late.txt"
            if [ -n "$have_sharp" ]; then
                sb=$(sharp_jpeg "$w" "$h" "$in" "$b.sharp.ppm")
                read -r sw sh < <(head -2 "$b.sharp.ppm" | tail -1)
                if [ "$sw $sh" != "$ow $oh" ]; then
                    "$CONVERT" "$CW/$prof-$i.full.ppm" -filter Lanczos \
                        -resize "${sw}x${sh}!" -depth 16 "ppm:$b.sref.ppm"
                else
                    cp "$b.ref.ppm" "$b.sref.ppm"
                fi
                echo "$("$TOOL" de "$b.sref.ppm" "$b.sharp.ppm") $sb" \
                    >> "$CW/sharp.txt"
            fi
        done
        # mean column 1 (median over images), p95 column 2 (worst)
        printf '%-10s %-9s %-8s %13s %13s %11s %9s %9s %9s\n' "$op $w" \
            "$prof" tunny "$(median "$CW/tunny.txt" 1)" \
            "$(sort -g -k2 "$CW/tunny.txt" | tail -1 | awk '{print $2}')" \
            "$(median "$CW/tunny.txt" 4)" "$(median "$CW/tunny.txt" 5)" \
            "$(median "$CW/tunny.txt" 6)" \
            "$([ -s "$CW/sharp.txt" ] && median "$CW/sharp.txt" 4 || echo -)"
        printf '%-10s %-9s %-8s %13s %13s %11s %9s %9s %9s\n' "$op $w" \
            "$prof" late "$(median "$CW/late.txt" 1)" \
            "$(sort -g -k2 "$CW/late.txt" | tail -1 | awk '{print $2}')" \
            "$(median "$CW/late.txt" 4)" - - -
        if [ -s "$CW/sharp.txt" ]; then
            printf '%-10s %-9s %-8s %13s %13s %11s %9s %9s %9s\n' "$op $w" \
                "$prof" sharp "$(median "$CW/sharp.txt" 1)" \
                "$(sort -g -k2 "$CW/sharp.txt" | tail -1 | awk '{print $2}')" \
                - "$(median "$CW/sharp.txt" 4)" - -
        fi
    done
done

printf '\n%-9s %22s %18s\n' profile 'cmsCreateTransform ms' 'transform ns/px'
"$TOOL" xfcost | while read -r n ms ns; do
    printf '%-9s %22s %18s\n' "$n" "$ms" "$ns"
done
