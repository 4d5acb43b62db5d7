#!/usr/bin/env bash
# The test command: installs dependencies, builds everything and runs every test with Bazel,
# then prints one last line "N passed, N failed" summed over all test cases (gtest XML).
# Exits non-zero if any test case failed or any test target did not run.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

if [[ $(id -u) -eq 0 ]]; then
  deploy/install-deps.sh || exit 1
else
  echo "run-all.sh: not root: skipping install-deps.sh; root-only integration tests will skip" >&2
fi

CACHE="${BERTH_BAZEL_CACHE:-$HOME/.cache/berth-bazel}"
mkdir -p "$CACHE"
bazel test --disk_cache="$CACHE" --keep_going "$@" //...
bazel_rc=$?

# Only the test targets that exist now count (bazel-testlogs may hold older ones).
targets=$(bazel query 'tests(//...)' 2>/dev/null)
testlogs=$(bazel info bazel-testlogs 2>/dev/null)
bazel shutdown >/dev/null 2>&1

python3 - "$testlogs" $targets <<'PY'
import os, sys
import xml.etree.ElementTree as ET

testlogs, targets = sys.argv[1], sys.argv[2:]
passed = failed = 0
for t in targets:
    path = os.path.join(testlogs, t.lstrip("/").replace(":", "/"), "test.xml")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        print(f"no test results for {t} (did not build or run)", file=sys.stderr)
        failed += 1
        continue
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for s in suites:
        for case in s.iter("testcase"):
            bad = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None or case.get("status") == "notrun"
            if bad:
                failed += 1
            elif not skipped:
                passed += 1
        # Bazel's own XML for a crashed or timed-out test has no testcase elements.
        if not list(s.iter("testcase")) and (int(s.get("failures", 0)) + int(s.get("errors", 0))):
            failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
summary_rc=$?
if [[ $bazel_rc -ne 0 || $summary_rc -ne 0 ]]; then
  exit 1
fi
exit 0
