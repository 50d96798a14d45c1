#!/usr/bin/env bash
# Build examples/ as its own dynamic module against the installed nginx
# (the configure tree of nginx-dev), with the flags of that nginx:
#   examples/build.sh BUILD_DIR     -> BUILD_DIR/ngx_http_tunny_example_module.so
# configure runs once per flags (BUILD_DIR/ngx, a stamp), then only make.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build/example}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src=/usr/share/nginx/src
stamp="$(cat "$top/examples/config" "$src/conf_flags" | md5sum)"
mkdir -p "$dir"
if [ ! -f "$dir/ngx/objs/Makefile" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]
then
    rm -rf "$dir/ngx"
    cp -r "$src" "$dir/ngx"
    (
        cd "$dir/ngx"
        # shellcheck disable=SC1091
        . ./conf_flags
        ./configure "${NGX_CONF_FLAGS[@]}" \
            --with-cc-opt="-g -O2 -Werror -fPIC" \
            --with-ld-opt="-fPIC" \
            --add-dynamic-module="$top/examples" > "$dir/configure.log" 2>&1
    ) || { tail -20 "$dir/configure.log" >&2; exit 1; }
    echo "$stamp" > "$dir/.stamp"
fi
make -s -C "$dir/ngx" -f objs/Makefile modules >&2
cp "$dir/ngx/objs/ngx_http_tunny_example_module.so" "$dir/"
echo "$dir/ngx_http_tunny_example_module.so"
