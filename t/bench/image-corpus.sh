#!/usr/bin/env bash
# The two source corpora of `./ngx_tunny_module bench image`:
#
#   image-corpus.sh BUILD CONVERT N
#
# BUILD/bench-corpus: N photo-like 2000x1500 (3 MP) JPEGs made by
#     ImageMagick (CONVERT) from its built-in images, deterministic per
#     seed, cached (.stamp);
# BUILD/bench-corpus-prog: the same files made progressive by jpegtran
#     -progressive (libjpeg-turbo-progs; the same coefficients), cached;
# BUILD/bench-photos: symbolic links to the real photographs among the
#     JPEG wallpapers of the installed Debian packages listed below, those
#     of at least 8 megapixels (8,000,000 pixels).
# BUILD/bench-anim: 8 animated GIFs of 480x270, 24 frames of 40 ms each,
#     forever: a sprite (ImageMagick's logo) moving over a still
#     background (plasma), written with -layers Optimize (sub-rectangles,
#     disposal, transparency: what GIF encoders make of such a loop),
#     deterministic per seed, cached (.stamp).
# BUILD/bench-png: symbolic links to the PNG wallpapers of the same
#     packages (illustrations and photos of 3640x2400 to 4096x2304, most
#     with alpha), each file once when two names ship the same bytes.
# Each directory gets a LIST (one file name a line, for t/bench/rotate.lua)
# and a MANIFEST (name, WxH, megapixels, bytes, package).

set -euo pipefail

BUILD=$1
CONVERT=$2
NIMG=$3
WALLPAPER_PACKAGES=(ukui-wallpapers lomiri-wallpapers
                    lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)
MIN_PIXELS=8000000
IDENTIFY=${CONVERT/convert/identify}

say() { printf '%s\n' "$*" >&2; }

# jpegtran makes the progressive copies; every bench that takes a corpus
# from here (image, overload, quality) comes through this line
if ! command -v jpegtran > /dev/null; then
    say "image-corpus: installing libjpeg-turbo-progs (jpegtran)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends libjpeg-turbo-progs >&2
fi


# --- thumbnails corpus ------------------------------------------------------

make_image() {  # SEED FILE
    local i=$1
    "$CONVERT" -seed "$i" -size 2000x1500 plasma:fractal -blur 0x1 \
        \( -size 2000x1500 tile:granite: \) -compose overlay -composite \
        \( wizard: -resize 800x800 -background none \
           -rotate $((i * 37 % 360)) \) \
        -geometry +$((i * 97 % 1200))+$((i * 61 % 700)) \
        -compose over -composite \
        \( logo: -resize 1000x -transparent white -background none \
           -rotate $((i * 13 % 40 - 20)) \) \
        -geometry +$((i * 151 % 1000))+$((i * 89 % 900)) \
        -compose over -composite \
        -attenuate 0.3 +noise Gaussian -quality 90 "$2"
}

corpus=$BUILD/bench-corpus
if [ "$(cat "$corpus/.stamp" 2>/dev/null)" != "v1 $NIMG" ]; then
    say "bench image: making $NIMG photo-like 2000x1500 JPEGs in $corpus"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    export -f make_image
    export CONVERT
    seq 1 "$NIMG" | xargs -P "$(nproc)" -I{} \
        bash -c 'make_image {} "$0/img{}.jpg"' "$corpus"
    echo "v1 $NIMG" > "$corpus/.stamp"
fi
seq 1 "$NIMG" | sed 's/.*/img&.jpg/' > "$corpus/LIST"
(cd "$corpus" && "$IDENTIFY" -format '%f %w %h %B\n' $(cat LIST)) \
    | awk '{ printf "%s %dx%d %.1fMP %d synthetic\n", $1, $2, $3,
             $2 * $3 / 1e6, $4 }' > "$corpus/MANIFEST"


# --- their progressive copies ----------------------------------------------

prog=$BUILD/bench-corpus-prog
if [ "$(cat "$prog/.stamp" 2>/dev/null)" != "v1 $NIMG" ]; then
    say "bench image: progressive copies of the corpus in $prog"
    rm -rf "$prog"
    mkdir -p "$prog"
    for f in $(cat "$corpus/LIST"); do
        jpegtran -progressive -copy all -outfile "$prog/$f" "$corpus/$f"
    done
    echo "v1 $NIMG" > "$prog/.stamp"
fi
cp "$corpus/LIST" "$prog/LIST"
(cd "$prog" && "$IDENTIFY" -format '%f %w %h %B\n' $(cat LIST)) \
    | awk '{ printf "%s %dx%d %.1fMP %d progressive\n", $1, $2, $3,
             $2 * $3 / 1e6, $4 }' > "$prog/MANIFEST"

# --- animated GIFs ------------------------------------------------------------

make_anim() {  # SEED FILE
    local i=$1 f frames=()
    for f in $(seq 0 23); do
        frames+=('(' mpr:bg '(' mpr:sprite -rotate $((f * 15)) ')'
                 -geometry +$((f * 14 + i * 7 % 40))+$((40 + (f * i * 5) % 60))
                 -compose over -composite ')')
    done
    "$CONVERT" -seed "$i" -size 480x270 plasma:fractal -blur 0x2 \
        -write mpr:bg +delete \
        logo: -resize 160x -transparent white -background none \
        -write mpr:sprite +delete \
        "${frames[@]}" -set delay 4 -loop 0 -layers Optimize "$2"
}

anim=$BUILD/bench-anim
if [ "$(cat "$anim/.stamp" 2>/dev/null)" != "v1 8" ]; then
    say "bench image: making 8 animated 480x270 GIFs in $anim"
    rm -rf "$anim"
    mkdir -p "$anim"
    export -f make_anim
    export CONVERT
    seq 1 8 | xargs -P "$(nproc)" -I{} \
        bash -c 'make_anim {} "$0/anim{}.gif"' "$anim"
    echo "v1 8" > "$anim/.stamp"
fi
seq 1 8 | sed 's/.*/anim&.gif/' > "$anim/LIST"
(cd "$anim" && for f in $(cat LIST); do
     "$IDENTIFY" -format '%f %W %H %n %B\n' "$f[0]"
 done) \
    | awk '{ printf "%s %dx%d %.1fMP %d synthetic-anim %d\n", $1, $2, $3,
             $2 * $3 / 1e6, $5, $4 }' > "$anim/MANIFEST"


# --- big photos: Debian's wallpaper JPEGs of >= 8 MP -------------------------

photos=$BUILD/bench-photos
rm -rf "$photos"
mkdir -p "$photos"
dpkg-query -L "${WALLPAPER_PACKAGES[@]}" 2>/dev/null \
    | grep -i -E '\.jpe?g$' | sort -u \
    | while read -r f; do
        [ -f "$f" ] || continue
        set -- $("$IDENTIFY" -format '%w %h %m\n' "$f[0]" 2>/dev/null)
        [ "${3:-}" = JPEG ] && [ $(($1 * $2)) -ge $MIN_PIXELS ] || continue
        name=$(basename "$f")
        ln -s "$f" "$photos/$name"
        printf '%s %sx%s %.1fMP %s %s\n' "$name" "$1" "$2" \
            "$(awk -v p=$(($1 * $2)) 'BEGIN { print p / 1e6 }')" \
            "$(stat -L -c %s "$f")" "$(dpkg-query -S "$f" | cut -d: -f1)"
    done > "$photos/MANIFEST"
cut -d' ' -f1 "$photos/MANIFEST" > "$photos/LIST"

[ -s "$photos/LIST" ] || {
    say "bench image: no JPEG of >= 8 MP in ${WALLPAPER_PACKAGES[*]}"
    exit 1
}

# --- PNG wallpapers: Debian's wallpaper PNGs, one copy of each -------------

pngs=$BUILD/bench-png
rm -rf "$pngs"
mkdir -p "$pngs"
dpkg-query -L "${WALLPAPER_PACKAGES[@]}" 2>/dev/null \
    | grep -i -E '\.png$' | sort -u \
    | while read -r f; do
        [ -f "$f" ] || continue
        # a file shipped under two names (a link, or the same bytes) once
        sum=$(sha1sum < "$f" | cut -c1-40)
        grep -q " $sum\$" "$pngs/.sums" 2>/dev/null && continue
        set -- $("$IDENTIFY" -format '%w %h %m %[channels]\n' "$f[0]" \
                 2>/dev/null)
        [ "${3:-}" = PNG ] || continue
        name=$(basename "$f")
        ln -s "$f" "$pngs/$name"
        echo "$name $sum" >> "$pngs/.sums"
        printf '%s %sx%s %.1fMP %s %s %s\n' "$name" "$1" "$2" \
            "$(awk -v p=$(($1 * $2)) 'BEGIN { print p / 1e6 }')" \
            "$(stat -L -c %s "$f")" "$(dpkg-query -S "$f" | cut -d: -f1)" \
            "$4"
    done > "$pngs/MANIFEST"
cut -d' ' -f1 "$pngs/MANIFEST" > "$pngs/LIST"

[ -s "$pngs/LIST" ] || {
    say "bench image: no PNG in ${WALLPAPER_PACKAGES[*]}"
    exit 1
}

for d in "$corpus" "$photos" "$anim" "$pngs"; do
    chmod -R a+rX "$d"
done
