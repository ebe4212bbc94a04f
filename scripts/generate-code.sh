#!/usr/bin/env bash
# Writes tests/generated/*.rs: the code view's Rust for each preset and for
# the specs with every layer type, which tests/generated_code.rs compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin aelab
aelab=target/debug/aelab
for id in denoiser-canonical denoiser-skip latent-ae series-dense series-conv1d; do
  "$aelab" model code "$id" --lang rust > "tests/generated/${id//-/_}.rs"
done
for f in all-layers all-layers-series; do
  "$aelab" model code "tests/fixtures/specs/$f.json" --lang rust > "tests/generated/${f//-/_}.rs"
done
