# Sourced by scripts/fuzz and scripts/sanitize: configures build-fuzz/ once (Clang, every
# library instrumented for libFuzzer coverage and checked by ASan+UBSan, no CUDA) and builds
# the targets named. Needs FUZZ_BUILD and setup.sh's SPINDLE_ROOT.
spindle_fuzz_build() {
  if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$SPINDLE_ROOT" -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSPINDLE_FUZZ=ON -DSPINDLE_TESTS=ON -DSPINDLE_CUDA=OFF >"$FUZZ_BUILD.configure.log" 2>&1 || {
      cat "$FUZZ_BUILD.configure.log" >&2
      exit 1
    }
  fi
  cmake --build "$FUZZ_BUILD" --target "$@"
}
