#!/usr/bin/env bash
# aebox-edge on aarch64 under emulation (issue 8): run as root on a Debian x86-64 machine.
#
#   sudo device_tests/arm64_emulated.sh            # or: AEBOX_ARM64=1 make device-test-arm64
#
# 1. builds (first run, ~8 min) or reuses an arm64 Debian root (mmdebstrap, or debootstrap) run through
#    qemu-user-static + binfmt_misc, with a Raspberry-Pi-4-like /proc/cpuinfo bind-mounted over the root's;
# 2. copies this working tree (tracked + untracked-not-ignored files, no .venv) into the root and installs it
#    runtime-only (`pip install SRC pytest pytest-benchmark`, no TensorFlow) into a venv there; checks that
#    `import tensorflow` fails;
# 3. prints `aebox-edge info` (the interpreter backend);
# 4. with a shipped model in models/: runs `aebox-edge run` on a short generated clip in the root and with the
#    host's .venv, and compares the two --params-out files within the int8 tolerance (compare_params.py);
# 5. runs `pytest device_tests` in the root with AEBOX_EMULATED=1 (device_tests/conftest.py skips timing
#    assertions under emulation and says so);
# 6. prints a summary. Exit status 0 only when every step that ran passed.
#
# Settings (environment):
#   AEBOX_ARM64_ROOT      the arm64 root, kept outside the repository    [/var/tmp/aebox-arm64-root]
#   AEBOX_ARM64_SUITE     Debian suite                                    [bookworm]
#   AEBOX_ARM64_MIRROR    Debian mirror                                   [http://deb.debian.org/debian]
#   AEBOX_ARM64_REBUILD=1 delete and rebuild the root
#   AEBOX_ARM64_MODEL     the .tflite to run [models/*int8*.tflite, aebox_edge/models/*int8*.tflite, else any
#                         .tflite there; the first one]
#   AEBOX_ARM64_SECONDS   length of the generated clip in seconds         [3]
#   AEBOX_ARM64_TOL       bound on |arm64 - x86| in normalized 0..1 units [the tolerance in <model>.golden.npz,
#                         else 0.02]; export's int8 limits (verification.limits of <model>.report.json, else
#                         1 dB / 50 cents / 10 %) apply too
#   AEBOX_ARM64_PYTEST    extra pytest arguments inside the root (e.g. "-k dsp")
#   AEBOX_ARM64_APT=0     do not apt-get install missing host tools (qemu-user-static binfmt-support mmdebstrap)
#   AEBOX_HOST_PYTHON     host python with the project installed (for the x86 reference) [REPO/.venv/bin/python]
#   AEBOX_CA_BUNDLE       CA bundle pip uses inside the root              [/etc/ssl/certs/ca-certificates.crt]
#   AEBOX_ARM64_NICE      niceness of the emulated work (shared machines) [10]
#   AEBOX_ARM64_CPU       the CPU qemu emulates (QEMU_CPU)               [cortex-a72, a Raspberry Pi 4]
#
# Why QEMU_CPU=cortex-a72: bookworm's qemu 7.2 emulates its "max" CPU by default and advertises SVE, SME, i8mm,
# dotprod... in AT_HWCAP; XNNPACK then picks kernels for those and qemu 7.2 computes them wrongly (a tiny int8 model
# gave outputs 23 int8 steps off the x86 result, while qemu 10 and LiteRT's builtin kernels agreed with x86). With
# the Pi 4's cortex-a72 the guest sees only fp/asimd/crc32 (+aes/sha, qemu's A72 has crypto) and the results match.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS="$REPO/device_tests/arm64"
ROOT=${AEBOX_ARM64_ROOT:-/var/tmp/aebox-arm64-root}
SUITE=${AEBOX_ARM64_SUITE:-bookworm}
MIRROR=${AEBOX_ARM64_MIRROR:-http://deb.debian.org/debian}
SECONDS_CLIP=${AEBOX_ARM64_SECONDS:-3}
HOST_PY=${AEBOX_HOST_PYTHON:-$REPO/.venv/bin/python}
CA_BUNDLE=${AEBOX_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
NICE=${AEBOX_ARM64_NICE:-10}
QEMU_CPU_MODEL=${AEBOX_ARM64_CPU:-cortex-a72}
PACKAGES=python3,python3-venv,ca-certificates,libsndfile1
STAMP="$ROOT/.aebox-arm64-root-ok"
G=/opt/aebox                 # inside the root: src/ (copy of the tree), venv/, work/ (clip, outputs)
HW="$ROOT$G/work"            # the same work directory seen from the host

T0=$(date +%s)
declare -a SUMMARY=()
FAILED=0
say() { printf '\n== %s\n' "$*"; }
note() { SUMMARY+=("$*"); }
fail() { FAILED=1; note "FAIL: $*"; printf 'FAIL: %s\n' "$*" >&2; }
die() { printf 'arm64_emulated.sh: error: %s\n' "$*" >&2; exit 2; }
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

[[ $(id -u) -eq 0 ]] || die "run as root (it builds a chroot and registers binfmt_misc)"
[[ $(uname -s) == Linux ]] || die "Linux only"
case "$ROOT" in
    "$REPO"|"$REPO"/*) die "AEBOX_ARM64_ROOT=$ROOT is inside the repository; keep it outside (default /var/tmp/aebox-arm64-root)";;
    /|"") die "AEBOX_ARM64_ROOT must be a dedicated directory";;
esac
[[ -f "$CA_BUNDLE" ]] || die "no CA bundle at $CA_BUNDLE (set AEBOX_CA_BUNDLE)"
NATIVE=0; [[ $(uname -m) == aarch64 ]] && NATIVE=1

# --- host tools -------------------------------------------------------------------------------------------------
need=()
command -v unshare >/dev/null || need+=(util-linux)
if ((!NATIVE)); then
    [[ -x /usr/bin/qemu-aarch64-static ]] || need+=(qemu-user-static)
    command -v update-binfmts >/dev/null || need+=(binfmt-support)
fi
if [[ ! -f "$STAMP" || ${AEBOX_ARM64_REBUILD:-0} == 1 ]]; then
    command -v mmdebstrap >/dev/null || command -v debootstrap >/dev/null || need+=(mmdebstrap)
fi
if ((${#need[@]})); then
    [[ ${AEBOX_ARM64_APT:-1} == 1 ]] || die "missing host packages: ${need[*]} (apt-get install them)"
    say "installing host packages: ${need[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# --- binfmt_misc: the kernel runs aarch64 ELF files through qemu-aarch64-static ---------------------------------
BINFMT=/proc/sys/fs/binfmt_misc
QEMU_FIX=1
if ((!NATIVE)); then
    if [[ ! -e $BINFMT/status ]]; then
        modprobe binfmt_misc 2>/dev/null || true
        mount -t binfmt_misc binfmt_misc $BINFMT || die "cannot mount binfmt_misc on $BINFMT"
    fi
    if ! grep -qx enabled $BINFMT/qemu-aarch64 2>/dev/null; then
        update-binfmts --enable qemu-aarch64 || die "update-binfmts --enable qemu-aarch64 failed"
    fi
    grep -qx enabled $BINFMT/qemu-aarch64 || die "binfmt entry qemu-aarch64 is not enabled"
    # Flag F: the kernel opened the interpreter at registration, so the root needs no copy of qemu.
    grep -q '^flags:.*F' $BINFMT/qemu-aarch64 || QEMU_FIX=0
    QEMU_INTERP=$(sed -n 's/^interpreter //p' $BINFMT/qemu-aarch64)
fi

# --- the arm64 root ---------------------------------------------------------------------------------------------
mounted_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts; }
if [[ ${AEBOX_ARM64_REBUILD:-0} == 1 || ! -f "$STAMP" ]]; then
    for d in "$ROOT" "$ROOT.partial"; do
        [[ -z $(mounted_under "$d") ]] || die "something is mounted under $d: $(mounted_under "$d" | tr '\n' ' ')"
    done
    rm -rf "$ROOT.partial" "$ROOT"
    say "building the arm64 $SUITE root in $ROOT (takes about 8 minutes)"
    tb=$(date +%s)
    if command -v mmdebstrap >/dev/null; then
        nice -n "$NICE" mmdebstrap --mode=root --arch=arm64 --variant=minbase --include="$PACKAGES" \
            --aptopt='APT::Install-Recommends "false"' "$SUITE" "$ROOT.partial" \
            "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
            "deb ${AEBOX_ARM64_SECURITY_MIRROR:-http://deb.debian.org/debian-security} $SUITE-security main"
    else
        nice -n "$NICE" debootstrap --arch=arm64 --variant=minbase --include="$PACKAGES" \
            "$SUITE" "$ROOT.partial" "$MIRROR"
    fi
    mv "$ROOT.partial" "$ROOT"
    date -u +%FT%TZ > "$STAMP"
    note "root: built $ROOT ($SUITE arm64) in $(elapsed "$tb")"
else
    note "root: reused $ROOT (built $(cat "$STAMP"); AEBOX_ARM64_REBUILD=1 rebuilds)"
fi
if ((!NATIVE && !QEMU_FIX)); then
    mkdir -p "$ROOT$(dirname "$QEMU_INTERP")"
    cp -L /usr/bin/qemu-aarch64-static "$ROOT$QEMU_INTERP"
fi
mkdir -p "$ROOT/etc/aebox" "$ROOT$G"
"$HELPERS/cpuinfo.sh" > "$ROOT/etc/aebox/cpuinfo"
cp "$CA_BUNDLE" "$ROOT/etc/aebox/host-ca.crt"
cp "$HELPERS/hwcaps.py" "$ROOT/etc/aebox/hwcaps.py"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

# Run a command in the root, as root, in a private mount namespace (every mount disappears when it exits, even if
# this script is killed), with a clean environment (env -i: none of the host's pip settings leak in).
# ROOT_ENV: extra NAME=VALUE words for the root's environment.
ROOT_ENV=()
in_root() {
    local cpuinfo_mount="mount --bind etc/aebox/cpuinfo proc/cpuinfo"
    ((NATIVE)) && cpuinfo_mount=:
    nice -n "$NICE" unshare --mount --propagation private -- /bin/sh -ec '
        cd "$1"; ROOT_ENV=$2; shift 2
        mount -t proc proc proc
        '"$cpuinfo_mount"'
        mount -t sysfs -o ro sysfs sys 2>/dev/null || mount --rbind /sys sys
        mount --rbind /dev dev
        mount -t tmpfs tmpfs tmp
        exec chroot . /usr/bin/env -i PATH=/opt/aebox/venv/bin:/usr/local/bin:/usr/bin:/bin HOME=/root \
            LANG=C.UTF-8 TERM=dumb PIP_CONFIG_FILE=/dev/null PIP_CERT=/etc/aebox/host-ca.crt \
            SSL_CERT_FILE=/etc/aebox/host-ca.crt REQUESTS_CA_BUNDLE=/etc/aebox/host-ca.crt \
            PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=120 PYTHONUNBUFFERED=1 \
            AEBOX_EMULATED='"$((1 - NATIVE))"' QEMU_CPU='"$QEMU_CPU_MODEL"' ${ROOT_ENV} "$@"
    ' in_root "$ROOT" "${ROOT_ENV[*]:-}" "$@"
}

say "root check"
in_root /bin/sh -c 'echo "uname -m: $(uname -m)"; echo "cpu: $(grep -m1 "^Model" /proc/cpuinfo | cut -d: -f2-)"; grep -m1 ^Features /proc/cpuinfo; python3 --version; python3 /etc/aebox/hwcaps.py'

# --- copy the working tree and install it runtime-only ----------------------------------------------------------
say "copying the working tree into $ROOT$G/src"
rm -rf "$ROOT$G/src" "$HW"
mkdir -p "$ROOT$G/src" "$HW"
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked files as they are in the working tree (deleted ones skipped) + untracked files git does not ignore
    git -C "$REPO" ls-files -z --cached --others --exclude-standard |
        (cd "$REPO" && while IFS= read -r -d '' f; do if [[ -f $f || -L $f ]]; then printf '%s\0' "$f"; fi; done) |
        tar -C "$REPO" --null -T - -cf - | tar -C "$ROOT$G/src" -xf -
else
    tar -C "$REPO" --exclude=.venv --exclude=.git --exclude=__pycache__ --exclude='*.egg-info' \
        --exclude=.benchmarks --exclude=.hypothesis --exclude=.pytest_cache --exclude=build --exclude=dist \
        -cf - . | tar -C "$ROOT$G/src" -xf -
fi
note "source: $(find "$ROOT$G/src" -type f | wc -l) files copied from $REPO"

say "installing aebox-edge runtime-only (+ pytest, pytest-benchmark) into $G/venv"
ti=$(date +%s)
in_root /bin/sh -ec '
    [ -x /opt/aebox/venv/bin/python ] || python3 -m venv /opt/aebox/venv
    cd /opt/aebox
    # dependencies (cached between runs), then the project itself, always rebuilt from the fresh copy
    pip install --prefer-binary --quiet ./src pytest pytest-benchmark
    pip install --force-reinstall --no-deps --no-cache-dir --quiet ./src
    pip list --format=freeze | grep -i -E "^(aebox-edge|numpy|scipy|soundfile|click|ai-edge-litert|tflite-runtime|tensorflow[a-z-]*|pytest|pytest-benchmark)=="
'
note "install: pip install SRC pytest pytest-benchmark in $(elapsed "$ti")"

say "TensorFlow must be absent"
if in_root python -c 'import tensorflow' >/dev/null 2>&1; then
    fail "import tensorflow succeeds in the arm64 venv (the runtime must not pull TensorFlow)"
else
    in_root python -c 'import tensorflow' 2>&1 | tail -1 || true
    note "tensorflow: not importable in the arm64 venv (as required)"
fi

say "aebox-edge info (arm64)"
if info=$(in_root aebox-edge info 2>&1); then
    echo "$info"
    backend=$(sed -n 's/^interpreter: //p' <<<"$info")
    note "backend (arm64): ${backend:-?}"
    [[ $backend == none* || -z $backend ]] && fail "no usable interpreter backend in the arm64 venv"
else
    echo "$info"; fail "aebox-edge info failed in the root"
fi

# --- the model on a short clip, arm64 vs the host ---------------------------------------------------------------
say "aebox-edge run on a ${SECONDS_CLIP} s clip with the shipped model"
model=${AEBOX_ARM64_MODEL:-}
if [[ -z $model ]]; then
    shopt -s nullglob
    cands=("$REPO"/models/*int8*.tflite "$REPO"/aebox_edge/models/*int8*.tflite)
    ((${#cands[@]})) || cands=("$REPO"/models/*.tflite "$REPO"/aebox_edge/models/*.tflite)
    shopt -u nullglob
    ((${#cands[@]} <= 1)) || echo "several models in models/: ${cands[*]}; using ${cands[0]} (set AEBOX_ARM64_MODEL)"
    model=${cands[0]:-}
fi
if [[ -z $model ]]; then
    echo "SKIP: no models/*.tflite or aebox_edge/models/*.tflite yet (the int8 model ships with issue 7)"
    note "model run: SKIPPED, no shipped .tflite (set AEBOX_ARM64_MODEL=PATH to use another model)"
elif ! in_root aebox-edge run --help >/dev/null 2>&1; then
    echo "SKIP: this tree has no 'aebox-edge run' yet (issue 6)"
    note "model run: SKIPPED, no 'aebox-edge run' command in this tree"
elif [[ ! -x $HOST_PY ]] || ! "$HOST_PY" -c 'import aebox_edge.cli' >/dev/null 2>&1; then
    fail "model run: host python $HOST_PY cannot import aebox_edge (run 'make demo' first or set AEBOX_HOST_PYTHON)"
else
    model=$(readlink -f "$model")
    mkdir -p "$HW/model"
    stem=${model%.tflite}
    cp "$model" "$HW/model/"
    for f in "$stem.json" "$stem.report.json" "$stem.golden.npz"; do [[ -f $f ]] && cp "$f" "$HW/model/"; done
    hm=$HW/model/$(basename "$model")       # the model as the host sees it
    m=$G/work/model/$(basename "$model")    # ... and as the root sees it
    echo "model: $model (sha256 $(sha256sum "$model" | cut -c1-12)...)"
    "$HOST_PY" "$HELPERS/make_clip.py" --seconds "$SECONDS_CLIP" --out "$HW"
    tx=$(date +%s)
    echo "-- x86 (host $HOST_PY):"
    if (cd "$HW" && "$HOST_PY" -m aebox_edge run input.wav --reference reference.wav -o out_x86.wav \
            --model "$hm" --params-out params_x86.json); then
        note "model run x86 (host): $(elapsed "$tx")"
    else
        fail "aebox-edge run failed on the host"
    fi
    ta=$(date +%s)
    echo "-- arm64 (emulated):"
    if in_root /bin/sh -c 'cd /opt/aebox/work && exec aebox-edge run input.wav --reference reference.wav \
            -o out_arm64.wav --model "$1" --params-out params_arm64.json' sh "$m"; then
        note "model run arm64 (emulated): $(elapsed "$ta") for a ${SECONDS_CLIP} s clip"
    else
        fail "aebox-edge run failed in the arm64 root"
    fi
    if [[ -f $HW/params_x86.json && -f $HW/params_arm64.json ]]; then
        say "arm64 parameters and their difference from x86"
        tol=(); [[ -n ${AEBOX_ARM64_TOL:-} ]] && tol=(--tol-normalized "$AEBOX_ARM64_TOL")
        if cmp_out=$("$HOST_PY" "$HELPERS/compare_params.py" "$HW/params_arm64.json" "$HW/params_x86.json" \
                --model "$hm" "${tol[@]}" 2>&1); then
            echo "$cmp_out"; note "$(tail -1 <<<"$cmp_out")"
        else
            echo "$cmp_out"; fail "$(tail -1 <<<"$cmp_out")"
        fi
        if [[ -f $HW/out_x86.wav && -f $HW/out_arm64.wav ]]; then
            aud=$("$HOST_PY" "$HELPERS/compare_params.py" --audio "$HW/out_arm64.wav" "$HW/out_x86.wav" 2>&1) || true
            echo "$aud"; note "$aud"
        fi
    fi
fi

# --- device_tests in the root -----------------------------------------------------------------------------------
# the device tests that need a model get the one compared above (the installed package has no checkout models/)
[[ -n ${m:-} ]] && ROOT_ENV=("AEBOX_EDGE_MODEL=$m")
say "pytest device_tests (arm64, AEBOX_EMULATED=$((1 - NATIVE))${m:+, AEBOX_EDGE_MODEL=$m})"
tp=$(date +%s)
set +e
# run from the copied tree but with the venv's pytest (not python -m), so the tests import the installed package
in_root /bin/sh -c 'cd /opt/aebox/src && exec pytest device_tests -p no:cacheprovider -ra '"${AEBOX_ARM64_PYTEST:-}" \
    2>&1 | tee "$HW/pytest.log"
rc=${PIPESTATUS[0]}
set -e
pyline=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$HW/pytest.log" | tail -1 |
    tr -d '=' | sed 's/^ *//; s/ *$//' || true)
emu=$(grep -m1 -o '^emulation: [A-Za-z]*' "$HW/pytest.log" || true)
skipped_timing=$(awk '/^SKIPPED \[[0-9]+\].*timing assertion skipped under CPU emulation/ {
    n += substr($2, 2, length($2) - 2)} END {print n + 0}' "$HW/pytest.log")
if ((rc == 0)); then note "device_tests: ${pyline:-?} (${emu:-emulation: see the header}; timing tests skipped: ${skipped_timing:-0}) in $(elapsed "$tp")"
else fail "device_tests: exit $rc: ${pyline:-see $HW/pytest.log}"; fi

# --- summary ----------------------------------------------------------------------------------------------------
say "summary (arm64 under $( ((NATIVE)) && echo 'native aarch64' || echo "qemu-user $(/usr/bin/qemu-aarch64-static --version | head -1 | awk '{print $3}')"), total $(elapsed "$T0"))"
printf '  %s\n' "${SUMMARY[@]}"
printf '  outputs: %s\n' "$HW"
if ((FAILED)); then echo "RESULT: FAILED"; exit 1; fi
echo "RESULT: OK"
