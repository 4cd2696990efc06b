#!/usr/bin/env bash
# The shell half of action.yml, here so that tests/test_action.py can run it: install
# the suite, run `distconform verify` with the action's inputs (INPUT_* variables),
# write the step outputs and summary, and exit with verify's status (0 passed or
# matched the expectations, 1 failed or mismatched, 2 bad input).
set -euo pipefail

fail() {
  echo "distconform action: $*" >&2
  exit 2
}

# Shell words of an input, one a line: quotes work as in a shell ("--clause 'LRU-1*'"),
# and nothing in them is run, as eval would.
words() {
  python - "$1" <<'EOF'
import os, shlex, sys
try:
    print("\n".join(shlex.split(os.environ.get(sys.argv[1], ""))))
except ValueError as exc:
    name = sys.argv[1].removeprefix("INPUT_").lower().replace("_", "-")
    sys.exit(f"distconform action: input {name}: {exc} (quote as in a shell)")
EOF
}

# The variable named $1 becomes an array of the shell words of the input named $2.
read_words() {
  local -n into=$1
  local text
  text=$(words "$2") || exit 2
  # shellcheck disable=SC2034  # into is a nameref: this sets the caller's array
  if [[ -n $text ]]; then mapfile -t into <<<"$text"; else into=(); fi
}

report_dir=$(realpath -m -- "${INPUT_REPORT_DIR:-.distconform}")
# First, so that the upload step finds its path even when a later step fails.
echo "report-dir=$report_dir" >>"${GITHUB_OUTPUT:-/dev/null}"

[[ -n ${INPUT_MECHANISM:-} ]] || fail "the input mechanism is empty: lock, lru, ratelimit, twopc or hotwarm"
read_words impls INPUT_IMPLEMENTATIONS
read_words extra INPUT_EXTRA_ARGS
read_words packages INPUT_PIP_INSTALL

case ${INPUT_INSTALL_SUITE:-true} in
  true) packages=("${DISTCONFORM_ACTION_PATH:?the action sets it to its own checkout}" "${packages[@]}") ;;
  false) ;;
  *) fail "install-suite is '$INPUT_INSTALL_SUITE': write true or false" ;;
esac
if ((${#packages[@]})); then
  python -m pip install --disable-pip-version-check -q "${packages[@]}"
fi

args=(verify "$INPUT_MECHANISM" "${impls[@]}" --report-dir "$report_dir")
if [[ -n ${INPUT_EXPECTATIONS:-} ]]; then args+=(--expectations "$INPUT_EXPECTATIONS"); fi
if [[ -n ${INPUT_REDIS_URL:-} ]]; then args+=(--redis-url "$INPUT_REDIS_URL"); fi
if [[ -n ${INPUT_MYSQL_URL:-} ]]; then args+=(--mysql-url "$INPUT_MYSQL_URL"); fi
args+=("${extra[@]}")

echo "distconform ${args[*]}"
code=0
python -m distconform.cli "${args[@]}" || code=$?
echo "exit-code=$code" >>"${GITHUB_OUTPUT:-/dev/null}"

if [[ -n ${GITHUB_STEP_SUMMARY:-} && -f $report_dir/report.md && $code != 2 ]]; then
  cat "$report_dir/report.md" >>"$GITHUB_STEP_SUMMARY"
fi
case $code in
  0) ;;
  1) echo "::error title=distconform verify ${INPUT_MECHANISM}::a clause failed, or the run did not match the expectations (each mismatch is one line above; the report is in the artifact)" ;;
  *) echo "::error title=distconform verify ${INPUT_MECHANISM}::exit status $code (see the line above)" ;;
esac
exit "$code"
