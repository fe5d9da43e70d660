#!/usr/bin/env bash
# tests/cuda_linkage.sh — which binaries load the CUDA libraries, and whether
# those libraries resolve (CTest: build/cuda_linkage; runs in every build).
#
#   tests/cuda_linkage.sh CAPBENCH RPATH [CUDA_BINARY...]
#
# CAPBENCH: the capbench binary. RPATH: the CUDA toolkit's library folder the
# build put in the run paths ("" in a build without CUDA). CUDA_BINARY: the
# CUDA module (libcapbench_cuda.so) and the test programs linked to CUDA.
#
# Checks:
#   1. capbench has no DT_NEEDED on libcudart/libcublas/libcuda, and
#      `capbench --version` loads none of them nor the module (LD_DEBUG=libs);
#   2. each CUDA binary's RUNPATH (or RPATH) names RPATH; `ldd` resolves every
#      library, and the CUDA ones also with LD_LIBRARY_PATH unset (so the run
#      path, not the environment, finds them);
#   3. the module exports cb_cuda_module_entry and hides the rest (no cb_*
#      function of cb_core in its dynamic symbols);
#   4. with the module built: `capbench generate --device cuda` does load it
#      and libcudart (on first use), and ends with the module's own answer
#      (exit 0 is impossible: no model), never "cannot open shared object";
#      CAPBENCH_CUDA_MODULE=/nonexistent gives a clear CB_ENODEV message.
# Prints one line per check; exit 1 on the first failure.
set -uo pipefail
bin=$1
rpath=$2
shift 2
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
cudalibs='libcudart|libcublas|libcuda\.so|libcapbench_cuda'

# ---- 1. capbench itself -------------------------------------------------------
needed=$(readelf -d "$bin" | grep NEEDED) || fail "readelf -d $bin"
if echo "$needed" | grep -Eq "$cudalibs"; then fail "$bin links a CUDA library: $needed"; fi
ok "capbench has no DT_NEEDED on CUDA libraries"
trace=$(env LD_DEBUG=libs "$bin" --version 2>&1 >/dev/null) || fail "$bin --version failed"
echo "$trace" | grep -q "libc.so" || fail "LD_DEBUG=libs printed no trace (cannot check): $(echo "$trace" | head -3)"
if echo "$trace" | grep -Eq "$cudalibs"; then
    fail "capbench --version loaded: $(echo "$trace" | grep -E "$cudalibs" | head -3)"
fi
ok "capbench --version loads no CUDA library ($(echo "$trace" | grep -c 'calling init') libraries initialized)"

[ -n "$rpath" ] || { ok "build without CUDA: nothing more to check"; exit 0; }
[ $# -gt 0 ] || fail "CUDA build but no CUDA binary given"

# ---- 2. run paths and ldd ---------------------------------------------------------
for f in "$@"; do
    [ -f "$f" ] || fail "$f is missing"
    rp=$(readelf -d "$f" | grep -E "RUNPATH|RPATH") || fail "$f has no RUNPATH/RPATH"
    echo "$rp" | grep -qF "[$rpath]" || echo "$rp" | grep -qF "$rpath:" || echo "$rp" | grep -qF ":$rpath" ||
        fail "$f: run path does not name $rpath: $rp"
    ok "$(basename "$f"): $(echo "$rp" | sed 's/.*\(R[UN]*PATH\)/\1/')"
    out=$(ldd "$f" 2>&1) || fail "ldd $f: $out"
    if echo "$out" | grep -q "not found"; then fail "ldd $f: $(echo "$out" | grep 'not found')"; fi
    bare=$(env -u LD_LIBRARY_PATH ldd "$f" 2>&1)
    for lib in libcudart libcublas libcublasLt; do
        line=$(echo "$bare" | grep "$lib\.so" | head -1)
        [ -n "$line" ] || continue
        echo "$line" | grep -q "not found" && fail "$(basename "$f"): $lib not found without LD_LIBRARY_PATH"
        ok "$(basename "$f"): $(echo "$line" | sed 's/^[[:space:]]*//')"
    done
    echo "$bare" | grep -q "libcudart\.so" || fail "$(basename "$f") does not link libcudart"
done

# ---- 3. the module's exports -------------------------------------------------------------
mod=""
for f in "$@"; do case "$f" in *libcapbench_cuda.so) mod=$f ;; esac; done
[ -n "$mod" ] || fail "the CUDA module is not among: $*"
syms=$(readelf --dyn-syms -W "$mod" | awk '$5 == "GLOBAL" && $7 != "UND" {print $8}')
echo "$syms" | grep -qx "cb_cuda_module_entry" || fail "$mod does not export cb_cuda_module_entry"
leaked=$(echo "$syms" | grep -E '^cb_' | grep -vx cb_cuda_module_entry | head -5)
[ -z "$leaked" ] || fail "$mod exports cb_core/cb_cuda symbols: $leaked"
ok "module exports cb_cuda_module_entry only (of cb_*)"

# ---- 4. loaded on first use -------------------------------------------------------------------
moddir=$(dirname "$mod")
[ "$(cd "$moddir" && pwd)" = "$(cd "$(dirname "$bin")" && pwd)" ] || fail "the module is not next to capbench"
trace=$(env LD_DEBUG=libs "$bin" generate --model /nonexistent-model.gguf -p hi --device cuda 2>&1 >/dev/null)
echo "$trace" | grep -q "libcapbench_cuda.so" || fail "--device cuda did not load the module"
echo "$trace" | grep -Eq "libcudart\.so" || fail "--device cuda did not load libcudart"
msg=$("$bin" generate --model /nonexistent-model.gguf -p hi --device cuda 2>&1 >/dev/null)
echo "$msg" | grep -q "cannot open shared object" && fail "--device cuda: $msg"
ok "--device cuda loads the module and libcudart on first use: $msg"
msg=$(CAPBENCH_CUDA_MODULE=/nonexistent/libcapbench_cuda.so "$bin" generate --model /x.gguf -p hi --device cuda 2>&1)
rc=$?
[ $rc = 1 ] && echo "$msg" | grep -q "CAPBENCH_CUDA_MODULE=/nonexistent" || fail "missing module: exit $rc: $msg"
ok "missing module: exit 1: $msg"
exit 0
