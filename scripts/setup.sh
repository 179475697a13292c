# Shared set-up for scripts/demo, scripts/test and scripts/bench-*: installs the Debian
# packages that are missing (dpkg first, apt-get only for what is absent), then configures
# and builds into build/ (incremental when already built). Sourced, not run.
set -euo pipefail

SPINDLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPINDLE_BUILD="${SPINDLE_BUILD:-$SPINDLE_ROOT/build}"

SPINDLE_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libboost-graph-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libsimgrid-dev libhdf5-dev hdf5-tools coinor-libcbc-dev coinor-libclp-dev
  libopenmpi-dev openmpi-bin libopenblas-dev
  python3 python3-h5py chromium
)

spindle_install_packages() {
  local missing=() p
  for p in "${SPINDLE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing missing Debian packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

spindle_build() {
  # CI turns warnings into errors; elsewhere an existing build keeps its own setting (forcing
  # OFF here would rebuild everything after a build with the release preset's options).
  local werror=()
  [ "${CI:-}" = "true" ] && werror=(-DSPINDLE_WERROR=ON)
  cmake -S "$SPINDLE_ROOT" -B "$SPINDLE_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "${werror[@]}" >"$SPINDLE_BUILD.configure.log" 2>&1 || {
    cat "$SPINDLE_BUILD.configure.log" >&2
    exit 1
  }
  cmake --build "$SPINDLE_BUILD"
}

spindle_setup() {
  spindle_install_packages
  spindle_build
}
