#!/bin/bash
# Runs the OCI runtime-tools validation suite (opencontainers/runtime-tools, its validation/
# programs) against several OCI runtimes side by side and prints, per runtime, the programs run,
# the checks passed and failed, and every failing check (program, check number, description).
#
# The suite is not part of berth: fetch and build it outside the repository, e.g.
#   git clone <runtime-tools> /work/scratch/runtime-tools && cd /work/scratch/runtime-tools
#   git checkout 260e151   # newest commit whose go.mod still says go 1.19 (Debian 12's Go)
#   GOFLAGS=-mod=vendor GOPROXY=off make runtimetest validation-executables
#
# Usage (as root):
#   tests/runc/validation.sh [-t SECONDS] [-o OUTDIR] [-p PROG[,PROG...]] SUITE_DIR [RUNTIME...]
#     SUITE_DIR  the built runtime-tools checkout (holds runtimetest, rootfs-amd64.tar.gz and
#                validation/*/*.t); also taken from $VALIDATION_SUITE
#     RUNTIME    runtime binaries to test; default: bazel-bin/runc/berth-runc, runc and crun
#                (each when installed)
#     -t         per-program timeout in seconds (default 120)
#     -o         where to keep the TAP output (default: a new /tmp/berth-validation.* dir)
#     -p         only these programs (names of validation/ subdirectories)
#     -R         only print the report for the results already in -o OUTDIR (runs nothing)
# Exits 0 after a run (failures are reported, not fatal), 0 with "SKIP:" when the suite is not
# built or we are not root, 2 on bad usage.
#
# How each program runs, and why:
# - Inside its own private mount namespace (unshare -m --propagation private): linux_ns_itype
#   runs a container without a mount namespace, so its /proc, /dev and /sys mounts would land in
#   the caller's namespace; and crun refuses this host's hybrid cgroups unless the cgroup2 mount
#   at /sys/fs/cgroup/unified is hidden. It is hidden for every runtime so all are measured alike.
# - Each runtime gets a fresh private --root per program, through a tiny wrapper script passed as
#   RUNTIME= (the suite calls the runtime without --root), so cleanup can delete exactly the
#   containers this program made and never touches anybody else's.
# - TMPDIR points at a private dir, so the suite's bundles (os.MkdirTemp("", "ocitest")) are ours.
# - All stdio goes to files, never pipes: after `create` a container's init inherits the
#   runtime's stdio, and a harness reading a pipe that a container holds hangs.
# - After each program: `<runtime> delete --force` for every container left in its root (inside
#   a namespace like the one it ran in), kill any process still in the program's mount
#   namespace, rmdir the cgroups the suite and the runtimes made (cgrouptest, testdir, uuid ids,
#   berth-runc's /berth-runc parent) that did not exist before, and remove the temp dirs.
set -u

usage() {
  sed -n '11,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

timeout_s=120
out=""
only=""
report_only=0
while getopts "t:o:p:Rh" opt; do
  case "$opt" in
    t) timeout_s="$OPTARG" ;;
    o) out="$OPTARG" ;;
    p) only="$OPTARG" ;;
    R) report_only=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))

# Scoring. The suite's programs report in three ways, and each is counted as such:
# - TAP checks ("ok N - desc" / "not ok N - desc"; "# SKIP" directives are counted apart);
# - lifecycle programs (hooks, prestart, poststart, ...) run no check: they print "1..0" and,
#   on failure, a YAML diagnostic with an "error" key. No check and no error counts as one
#   passed check "(program)", an error as one failed check;
# - *_fail programs print nothing and exit 0 when the runtime rightly refused the config, and
#   util.Fatal (exit 1) when it did not. In that case they first print the TAP of the
#   runtimetest that ran inside the container that should never have been made: those checks
#   are not counted, only the one failure.
# Any non-zero exit (util.Fatal, a Go panic, timeout 124/137) is one failed "(program)" check
# with the first line of its stderr; a program that ran fewer checks than it planned is too.
report() {
  local name="$1" f p
  for f in "$out/$name"/*.tap; do
    p="$(basename "$f" .tap)"
    echo "@@PROGRAM $p $(cat "$out/$name/$p.rc" 2>/dev/null || echo missing)"
    echo "@@STDERR $(grep -v '^failed to \|^$' "$out/$name/$p.stderr" 2>/dev/null | head -n 1)"
    cat "$f"
  done | awk -v name="$name" '
    /^@@PROGRAM / {
      if (prog != "") finish()
      prog = $2; rc = $3; planned = -1; seen = 0; programs++; yaml_error = ""; stderr = ""
      prog_passed = 0; prog_failed = 0; prog_skipped = 0; prog_nf = nf
      next
    }
    /^@@STDERR / { stderr = substr($0, 10); next }
    /^1\.\.[0-9]+/ { planned = substr($0, 4) + 0; next }
    /^ *"error": "/ {
      if (yaml_error == "") {
        yaml_error = $0; sub(/^ *"error": "/, "", yaml_error)
        sub(/(\\n.*|",?$)/, "", yaml_error)
      }
      next
    }
    /^(not )?ok / {
      seen++
      line = $0; notok = (line ~ /^not ok/)
      sub(/^(not )?ok /, "", line)
      num = line; sub(/[^0-9].*/, "", num)
      desc = line; sub(/^[0-9]+ *-? */, "", desc)
      if (desc ~ /# *[Ss][Kk][Ii][Pp]/) { skipped++; prog_skipped++; next }
      if (desc ~ /# *TODO/) { todo++; next }
      if (notok) { failed++; prog_failed++; fails[++nf] = sprintf("%s #%s %s", prog, num, desc) }
      else { passed++; prog_passed++ }
    }
    function fail(reason) { failed++; fails[++nf] = sprintf("%s (program) %s", prog, reason) }
    function finish() {
      if (rc == 124 || rc == 137) { fail("timed out"); return }
      if (rc != "0" && prog ~ /_fail$/) {
        passed -= prog_passed; failed -= prog_failed; skipped -= prog_skipped; nf = prog_nf
      }
      if (rc != "0") { fail("exit status " rc ": " stderr); return }
      if (planned >= 0 && seen < planned) {
        fail(sprintf("ran %d of %d planned checks", seen, planned)); return
      }
      if (seen == 0) {
        if (yaml_error != "") fail(yaml_error)
        else passed++
      }
    }
    END {
      if (prog != "") finish()
      printf "%s: %d programs, %d checks passed, %d failed, %d skipped\n",
        name, programs, passed, failed, skipped
      for (i = 1; i <= nf; i++) printf "  FAIL %s\n", fails[i]
    }
  '
}

if [ "$report_only" = 1 ]; then
  [ -n "$out" ] && [ -d "$out" ] || { echo "-R needs -o OUTDIR with earlier results" >&2; exit 2; }
  for d in "$out"/*/; do
    ls "$d"*.tap >/dev/null 2>&1 && report "$(basename "$d")"
  done
  exit 0
fi

suite="${1:-${VALIDATION_SUITE:-}}"
[ $# -gt 0 ] && shift

skip() {
  echo "SKIP: $*"
  exit 0
}

[ -n "$suite" ] || skip "no runtime-tools suite given (pass SUITE_DIR or set VALIDATION_SUITE)"
[ -d "$suite" ] || skip "runtime-tools suite dir $suite does not exist"
suite="$(cd "$suite" && pwd)"
[ -x "$suite/runtimetest" ] ||
  skip "$suite/runtimetest is not built (run in $suite:" \
    "GOFLAGS=-mod=vendor GOPROXY=off make runtimetest validation-executables)"
[ -f "$suite/rootfs-amd64.tar.gz" ] || skip "$suite/rootfs-amd64.tar.gz is missing"
shopt -s nullglob
all_programs=()
for t in "$suite"/validation/*/*.t; do
  all_programs+=("$(basename "$(dirname "$t")")")
done
[ ${#all_programs[@]} -gt 0 ] ||
  skip "no validation programs built in $suite/validation (run: make validation-executables)"
[ "$(id -u)" = 0 ] || skip "the validation suite needs root"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"

programs=()
if [ -n "$only" ]; then
  IFS=, read -r -a programs <<<"$only"
  for p in "${programs[@]}"; do
    [ -x "$suite/validation/$p/$p.t" ] || { echo "no built program $p in $suite" >&2; exit 2; }
  done
else
  programs=("${all_programs[@]}")
fi

runtimes=()
if [ $# -gt 0 ]; then
  for r in "$@"; do
    p="$(command -v "$r")" || { echo "runtime $r not found" >&2; exit 2; }
    runtimes+=("$(readlink -f "$p")")
  done
else
  repo="$(cd "$(dirname "$0")/../.." && pwd)"
  berth="$repo/bazel-bin/runc/berth-runc"
  [ -x "$berth" ] && runtimes+=("$(readlink -f "$berth")")
  for r in runc crun; do
    p="$(command -v "$r")" && runtimes+=("$(readlink -f "$p")")
  done
fi
[ ${#runtimes[@]} -gt 0 ] || skip "no runtime to test"

if [ -z "$out" ]; then
  out="$(mktemp -d /tmp/berth-validation.XXXXXX)"
else
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
fi
# Scratch space (state roots, bundles) lives beside the logs but is removed after each program.
work="$(mktemp -d "$out/work.XXXXXX")"

# Cgroups this run may create: the suite's fixed names, the suite's uuid container ids (runc and
# crun name a container's default cgroup after its id) and berth-runc's default parent.
uuid_re='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
cgroup_candidates() {
  find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d \
    \( -name cgrouptest -o -name testdir -o -name berth-runc -o -regextype posix-extended \
       -regex ".*/$uuid_re" \) 2>/dev/null | sort
}

# Removes the cgroups listed in $2 (after) but not in $1 (before), deepest first.
remove_new_cgroups() {
  comm -13 "$1" "$2" | while read -r d; do
    # Everything below a new dir is new too.
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}

# Kills every process whose mount namespace is $1 (they are all descendants of our unshare).
kill_namespace() {
  local ns="$1" pid
  [ -n "$ns" ] || return 0
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/ns/mnt" 2>/dev/null)" = "$ns" ] && kill -KILL "${pid#/proc/}" 2>/dev/null
  done
}

# Kills processes whose root or cwd is inside $1 (containers we made whose state got lost).
kill_rooted_in() {
  local dir="$1" pid r c
  for pid in /proc/[0-9]*; do
    r="$(readlink "$pid/root" 2>/dev/null)" || continue
    c="$(readlink "$pid/cwd" 2>/dev/null)"
    case "$r/ $c/" in
      "$dir"/*|*" $dir"/*) kill -KILL "${pid#/proc/}" 2>/dev/null ;;
    esac
  done
}

# Runs one program inside the current (private) mount namespace. Arguments: suite, program,
# wrapper, tmpdir, tap file, stderr file, rc file, ns file, timeout.
inner='
  suite="$1" prog="$2" wrapper="$3" tmp="$4" tap="$5" err="$6" rcf="$7" nsf="$8" secs="$9"
  readlink /proc/self/ns/mnt >"$nsf"
  if mountpoint -q /sys/fs/cgroup/unified; then umount -l /sys/fs/cgroup/unified; fi
  cd "$suite" || exit 1
  RUNTIME="$wrapper" TMPDIR="$tmp" timeout -k 10 "$secs" "./validation/$prog/$prog.t" \
    <"/dev/null" >"$tap" 2>"$err"
  echo $? >"$rcf"
'

# Deletes every container left in the wrapper'\''s root (ran in a namespace like the test'\''s).
cleanup_inner='
  wrapper="$1" root="$2"
  if mountpoint -q /sys/fs/cgroup/unified; then umount -l /sys/fs/cgroup/unified; fi
  ids="$( { "$wrapper" list -q 2>/dev/null; ls -1 "$root" 2>/dev/null; } | sort -u)"
  for id in $ids; do
    [ -d "$root/$id" ] || "$wrapper" state "$id" >/dev/null 2>&1 || continue
    timeout -k 5 30 "$wrapper" delete --force "$id" >/dev/null 2>&1
  done
'

summary="$out/summary.txt"
: >"$summary"
for rt in "${runtimes[@]}"; do
  name="$(basename "$rt")"
  mkdir -p "$out/$name"
  echo "== running ${#programs[@]} programs against $name ($rt), timeout ${timeout_s}s each" >&2
  for prog in "${programs[@]}"; do
    d="$work/$name-$prog"
    mkdir -p "$d/root" "$d/tmp"
    wrapper="$d/runtime"
    printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$rt" "$d/root" >"$wrapper"
    chmod +x "$wrapper"
    tap="$out/$name/$prog.tap"
    err="$out/$name/$prog.stderr"
    cgroup_candidates >"$d/cg.before"
    start=$(date +%s.%N)
    unshare -m --propagation private bash -c "$inner" inner "$suite" "$prog" "$wrapper" "$d/tmp" \
      "$tap" "$err" "$d/rc" "$d/ns" "$timeout_s" </dev/null >/dev/null 2>>"$err"
    end=$(date +%s.%N)
    rc="$(cat "$d/rc" 2>/dev/null || echo unshare-failed)"
    echo "$rc" >"$out/$name/$prog.rc"
    unshare -m --propagation private bash -c "$cleanup_inner" cleanup "$wrapper" "$d/root" \
      </dev/null >/dev/null 2>&1
    kill_namespace "$(cat "$d/ns" 2>/dev/null)"
    kill_rooted_in "$d"
    cgroup_candidates >"$d/cg.after"
    remove_new_cgroups "$d/cg.before" "$d/cg.after"
    rm -rf --one-file-system "$d"
    secs="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
    printf '  %-40s rc=%-4s %6.1fs\n' "$prog" "$rc" "$secs" >&2
  done
done
rmdir "$work" 2>/dev/null

for rt in "${runtimes[@]}"; do
  report "$(basename "$rt")" | tee -a "$summary"
done
echo "TAP output, stderr and exit codes: $out/<runtime>/<program>.{tap,stderr,rc}"
echo "summary: $summary"

# Leftovers would be a harness bug: say so loudly.
left="$(grep -F "$out" /proc/self/mountinfo)"
[ -z "$left" ] || echo "WARNING: mounts left under $out:"$'\n'"$left" >&2
exit 0
