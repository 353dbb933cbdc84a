# Sourced by run.sh and fetch.sh: wait for the machine to be quiet before each measurement.
# Needs IDLE_WAIT, IDLE_BUDGET and a `log` function; sets OTHER_CPU (percent used by others
# just before the measurement) and WAITED (seconds waited so far).

# Percent of all CPU time used over one second (by others: we run this between steps).
cpu_busy() {
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep 1
    read -r -a b < <(head -1 /proc/stat)
    local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# Busy and total CPU ticks of the whole machine, to tell what others used during a run.
cpu_ticks() { head -1 /proc/stat | awk '{print $2+$3, $2+$3+$4+$5+$6+$7+$8+$9}'; }

OTHER_CPU=0
WAITED=0
wait_idle() {
    local start=$SECONDS busy
    busy=$(cpu_busy)
    while ((busy > 15 && SECONDS - start < IDLE_WAIT && WAITED + SECONDS - start < IDLE_BUDGET)); do
        log "  waiting: other processes use ${busy}% of the CPU ($(ps -eo pcpu,comm --sort=-pcpu | sed -n 2,4p | tr -s ' ' | paste -sd,))"
        sleep 10
        busy=$(cpu_busy)
    done
    WAITED=$((WAITED + SECONDS - start))
    OTHER_CPU=$busy
}
