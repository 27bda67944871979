#!/usr/bin/env bash
# Bundle benchmarks/gpu_check.py for a GPU machine that has torch, transformers (>= 5) and accelerate but reaches
# no package registry: a wheel of emo_pillars (no dependencies: the check imports none of datasets, gguf, xgrammar,
# ...), the two scripts it runs, and run.sh. Prints the bundle's size (the limit is 64 MiB of wheels).
#
#   bash benchmarks/gpu_check_bundle.sh [DIR]      # default DIR: dist/gpu-check (ignored by git)
#
# On the GPU machine, with DIR copied there:
#
#   bash DIR/run.sh                                # pip install --no-deps --no-index DIR/wheels/*.whl, then the check
#   bash DIR/run.sh --output "$OUT/gpu-check.json" # keep the figures
#
# The wheel is built from a copy of the sources in a temporary folder, so the repository's build/ and egg-info are
# left alone, with the setuptools of this environment (--no-build-isolation: no download).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$root/dist/gpu-check}" && cd "${1:-$root/dist/gpu-check}" && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python=python3

src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
cp -r "$root/emo_pillars" "$root/model_cards" "$root/setup.cfg" "$root/pyproject.toml" "$root/README.md" \
    "$root/LICENSE" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +

rm -rf "$out/wheels"
"$python" -m pip wheel --quiet --no-deps --no-build-isolation "$src" -w "$out/wheels"
cp "$root/benchmarks/gpu_check.py" "$root/benchmarks/budget.py" "$out/"
cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Install the bundled wheel (no dependencies, no registry) and run the GPU check; arguments go to gpu_check.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python -m pip install --quiet --no-deps --no-index "$here"/wheels/*.whl
python "$here/gpu_check.py" "$@"
EOF
chmod +x "$out/run.sh"

wheels=$(du -cb "$out"/wheels/*.whl | tail -n 1 | cut -f 1)
echo "bundle: $out"
ls -l "$out/wheels"
echo "wheels: $wheels bytes ($(( (wheels + 1023) / 1024 )) KiB; limit 64 MiB)"
if [ "$wheels" -gt $((64 * 1024 * 1024)) ]; then
    echo "the wheels exceed 64 MiB" >&2
    exit 1
fi
