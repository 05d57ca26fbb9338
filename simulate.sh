#!/usr/bin/env bash
# simulate.sh: watch monilog raise a high-traffic alert and recover, on generated traffic.
#
#   ./simulate.sh          the real 2-minute alert window: about 6 minutes
#   ./simulate.sh --quick  a 20-second window: about 1 minute
#   ./simulate.sh --test   the quick traffic written at once and replayed: a few seconds
#   ./simulate.sh [--quick|--test] --kafka kafka://HOST:PORT/TOPIC   the same through a topic
#
# log_generator writes traffic that crosses the 10 req/s threshold and falls back into a
# fresh temporary access log, and `monitoring --plain` follows it (--test: replays it, log
# time being the only clock). With --kafka the lines go to that topic (use a fresh one: it is
# read from its start) and monitoring reads them there (needs monilog[kafka]). The run stops
# once the recovery is shown. Needs the console scripts of `pip install -e .` on PATH.
# Exit status: 0 when an alert and then a recovery appeared, 1 when not, 2 for bad usage.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

mode=full kafka=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) mode=quick ;;
        --test) mode=test ;;
        --kafka)
            case "${2:-}" in
                kafka://*) kafka=$2; shift ;;
                *) echo "simulate.sh: --kafka needs a kafka://HOST:PORT/TOPIC URL (see --help)" >&2; exit 2 ;;
            esac ;;
        -h | --help) usage; exit 0 ;;
        *) echo "simulate.sh: unknown option '$1' (expected --quick, --test, --kafka URL or nothing; see --help)" >&2; exit 2 ;;
    esac
    shift
done

threshold=10
if [ "$mode" = full ]; then
    window=120 period=10 rates=(5 15 5) durations=(150 150 150)
    expect="an alert about 3m30s in and a recovery about 6m00s in"
else
    window=20 period=5 rates=(2 20 2) durations=(20 20 20)
    expect="an alert about 30 s in and a recovery about 52 s in"
fi
[ "$mode" = test ] && expect+=" (in log time: the whole log is written first, then replayed at once)"
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
cleanup() {
    # every background job, also one whose pid a signal kept us from noting when it started;
    # IFS reset: a signal during `IFS= read` runs this with the empty IFS still in effect
    local pid IFS=$' \t\n'
    for pid in $(jobs -p); do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

steps=""
for i in "${!rates[@]}"; do steps+="${steps:+, then }${rates[$i]} req/s for ${durations[$i]} s"; done
cat <<EOF
== monilog simulation ($mode mode) ==
Alert rule: average traffic over the last ${window} s above ${threshold} req/s$([ "$mode" = full ] || echo " ($mode mode: the real window is 120 s)").
Reports every ${period} s. Traffic: ${steps}.
Expect ${expect}.

EOF

: >"$log"
mkfifo "$workdir/output"
source=(--file "$log")
[ -z "$kafka" ] || source=(--kafka "$kafka")
generate=(log_generator "${source[@]}" --rates "${rates[@]}" --durations "${durations[@]}" --seed 2024 --quiet)
[ -z "$kafka" ] || source=("$kafka")
watch=(monitoring "${source[@]}" --threshold "$threshold" --window "$window" --period "$period" --plain --no-log-file)
if [ "$mode" = test ]; then
    "${generate[@]}" --no-sleep
    PYTHONUNBUFFERED=1 "${watch[@]}" --replay >"$workdir/output" 2>&1 &
    monitor=$!
else
    PYTHONUNBUFFERED=1 "${watch[@]}" --from-start --max-idle 30 >"$workdir/output" 2>&1 &
    monitor=$!
    "${generate[@]}" &
fi
# Safety net: stop monitoring if the recovery has not come well after the traffic ended.
(
    trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM # the sleep, even if its pid was not noted yet
    sleep $((total + 60)) &
    wait
    kill -TERM "$monitor" 2>/dev/null
) &

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
