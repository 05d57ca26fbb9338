#!/usr/bin/env bash
# simulate.sh: watch monilog raise a high-traffic alert and recover, on generated traffic.
#
#   ./simulate.sh          the real 2-minute alert window: about 6 minutes
#   ./simulate.sh --quick  a 20-second window: about 1 minute
#
# log_generator writes traffic that crosses the 10 req/s threshold and falls back into a
# fresh temporary access log, and `monitoring --plain` follows it. The run stops once the
# recovery is shown. Needs the console scripts of `pip install -e .` on PATH.
# Exit status: 0 when an alert and then a recovery appeared, 1 when not, 2 for bad usage.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

mode=full
case "${1:-}" in
    "") ;;
    --quick) mode=quick ;;
    -h | --help) usage; exit 0 ;;
    *) echo "simulate.sh: unknown option '$1' (expected --quick or nothing; see --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "simulate.sh: too many arguments (see --help)" >&2; exit 2; }

threshold=10
if [ "$mode" = quick ]; then
    window=20 period=5 rates=(2 20 2) durations=(20 20 20)
    expect="an alert about 30 s in and a recovery about 52 s in"
else
    window=120 period=10 rates=(5 15 5) durations=(150 150 150)
    expect="an alert about 3m30s in and a recovery about 6m00s in"
fi
total=0
for duration in "${durations[@]}"; do total=$((total + duration)); done

for command in log_generator monitoring; do
    command -v "$command" >/dev/null 2>&1 || {
        echo "simulate.sh: '$command' not found: install monilog first (pip install -e .)" >&2
        exit 2
    }
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/monilog-simulate.XXXXXX")
log="$workdir/access.log"
pids=()
cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

steps=""
for i in "${!rates[@]}"; do steps+="${steps:+, then }${rates[$i]} req/s for ${durations[$i]} s"; done
cat <<EOF
== monilog simulation ($mode mode) ==
Alert rule: average traffic over the last ${window} s above ${threshold} req/s$([ "$mode" = quick ] && echo " (quick mode: the real window is 120 s)").
Reports every ${period} s. Traffic: ${steps}.
Expect ${expect}.

EOF

: >"$log"
mkfifo "$workdir/output"
PYTHONUNBUFFERED=1 monitoring --file "$log" --from-start --threshold "$threshold" --window "$window" \
    --period "$period" --plain --no-log-file --max-idle 30 >"$workdir/output" 2>&1 &
monitor=$!
pids+=("$monitor")
log_generator --file "$log" --rates "${rates[@]}" --durations "${durations[@]}" --seed 2024 --quiet &
pids+=("$!")
# Safety net: stop monitoring if the recovery has not come well after the traffic ended.
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep $((total + 60)) &
    sleeper=$!
    wait "$sleeper"
    kill -TERM "$monitor" 2>/dev/null
) &
pids+=("$!")

alerted=no recovered=no
while IFS= read -r line; do
    printf '%s\n' "$line"
    case "$alerted$recovered:$line" in
        no*"High traffic generated an alert"*) alerted=yes ;;
        yesno:*[Rr][Ee][Cc][Oo][Vv][Ee][Rr]*)
            recovered=yes
            kill -TERM "$monitor" 2>/dev/null || true # monitoring prints its summary and exits
            ;;
    esac
done <"$workdir/output"

echo
if [ "$recovered" = yes ]; then
    echo "simulate.sh: OK: the alert and the recovery were both shown."
    exit 0
fi
[ "$alerted" = yes ] && missing="the recovery" || missing="the alert"
echo "simulate.sh: FAILED: $missing never appeared." >&2
exit 1
