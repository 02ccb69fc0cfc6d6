#!/bin/sh
# Build a mediasoup worker from the Linux distribution's libraries, for machines that cannot reach
# GitHub (where mediasoup's install downloads its prebuilt worker, or the sources of openssl, libuv,
# libsrtp, usrsctp and abseil that its own build needs). Only the npm and PyPI registries and the
# distribution's packages are used.
#
# mediasoup 3.12 is the newest release whose dependencies match Debian 12 / Ubuntu 24.04 packages
# (later releases need flatbuffers 24 and a libsrtp 3 fork). The script installs that release's
# JavaScript here (not saved to package.json, whose range admits it), compiles its worker against
# the system libraries through small meson subprojects that stand in for the bundled ones, and puts
# the binary where mediasoup looks for it (node_modules/mediasoup/worker/out/Release/).
#
# Usage: ./build-worker.sh   (from media_node/, or `make media-node-distro` from the top level)
set -eu

VERSION=${MEDIASOUP_DISTRO_VERSION:-3.12.16}
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$HERE/.worker-build
PYTHON=${PYTHON:-python3}
cd "$HERE"

missing=""
for lib in openssl libuv libsrtp2 usrsctp absl_flat_hash_map nlohmann_json; do
  pkg-config --exists "$lib" 2>/dev/null || missing="$missing $lib"
done
if [ -n "$missing" ] || ! command -v c++ >/dev/null; then
  echo "missing:$missing (or a C++ compiler). On Debian/Ubuntu:" >&2
  echo "  apt-get install -y g++ pkg-config libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev" >&2
  exit 1
fi

# mediasoup's own install script would try to download or build a worker: skip it, we build ours.
npm install --no-audit --no-fund --ignore-scripts --no-save "mediasoup@$VERSION"
PACKAGE=$HERE/node_modules/mediasoup

rm -rf "$BUILD/worker"
mkdir -p "$BUILD"
cp -r "$PACKAGE/worker" "$BUILD/worker"
SUB=$BUILD/worker/subprojects
rm -f "$SUB"/*.wrap  # no downloads: each dependency becomes a directory wrapping the system library

# stub NAME LANGS: a subproject directory with an empty source, for the static library targets the
# worker's meson.build links whole (the real code comes from the system library's dependency).
stub() {
  mkdir -p "$SUB/$1"
  : > "$SUB/$1/empty.c"
  printf "project('%s', %s)\n" "$1" "$2" > "$SUB/$1/meson.build"
}

stub openssl "'c'"
cat >> "$SUB/openssl/meson.build" <<'EOF'
openssl_dep = dependency('openssl', version: '>=3.0')
libcrypto_lib = static_library('crypto_stub', 'empty.c')
libssl_lib = static_library('ssl_stub', 'empty.c')
EOF

stub nlohmann_json "'cpp'"
echo "nlohmann_json_dep = dependency('nlohmann_json')" >> "$SUB/nlohmann_json/meson.build"

stub libuv "'c'"
cat >> "$SUB/libuv/meson.build" <<'EOF'
libuv_dep = dependency('libuv')
libuv = static_library('uv_stub', 'empty.c')
EOF
cat > "$SUB/libuv/meson_options.txt" <<'EOF'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
EOF

stub libsrtp2 "'c'"
cat >> "$SUB/libsrtp2/meson.build" <<'EOF'
srtp = dependency('libsrtp2', version: '>=2.4')
# mediasoup includes <srtp.h>; distributions install it under srtp2/.
libsrtp2_dep = declare_dependency(dependencies: srtp,
  compile_args: '-I' + (srtp.get_variable(pkgconfig: 'includedir') / 'srtp2'))
libsrtp2 = static_library('srtp2_stub', 'empty.c')
EOF
cat > "$SUB/libsrtp2/meson_options.txt" <<'EOF'
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')
EOF

stub usrsctp "'c'"
cat >> "$SUB/usrsctp/meson.build" <<'EOF'
usrsctp_dep = dependency('usrsctp')
usrsctp = static_library('usrsctp_stub', 'empty.c')
EOF
echo "option('sctp_build_programs', type: 'boolean', value: false)" > "$SUB/usrsctp/meson_options.txt"

stub abseil-cpp "'c', 'cpp'"
cat >> "$SUB/abseil-cpp/meson.build" <<'EOF'
absl_container_dep = dependency('absl_flat_hash_map')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = dependency('absl_optional')
absl_container_lib = static_library('absl_stub', 'empty.c')
EOF

stub catch2 "'cpp'"
echo "catch2_dep = declare_dependency()" >> "$SUB/catch2/meson.build"

# meson and ninja from PyPI, in a throwaway environment (the worker wants meson >= 1.1).
if [ ! -x "$BUILD/venv/bin/meson" ]; then
  "$PYTHON" -m venv "$BUILD/venv"
  "$BUILD/venv/bin/pip" install --quiet "meson>=1.1,<2" "ninja>=1.11"
fi
PATH=$BUILD/venv/bin:$PATH
export PATH
meson setup "$BUILD/out" "$BUILD/worker" --wipe --buildtype=release -Db_ndebug=true >/dev/null 2>&1 \
  || meson setup "$BUILD/out" "$BUILD/worker" --buildtype=release -Db_ndebug=true
ninja -C "$BUILD/out" mediasoup-worker

mkdir -p "$PACKAGE/worker/out/Release"
cp "$BUILD/out/mediasoup-worker" "$PACKAGE/worker/out/Release/mediasoup-worker"
echo "mediasoup $VERSION worker built: $PACKAGE/worker/out/Release/mediasoup-worker"
