#!/bin/sh
# Edge coverage of nic's own sources by the fuzzers' corpora.
#
#   tools/fuzz/coverage.sh LOGDIR TARGET=BINARY[:MODELDIR] CORPUSDIR... -- ...
#
# (make fuzz-coverage passes the arguments.)  Every target runs once over
# its corpus directories with libFuzzer's -print_coverage=1; for each
# function of libavcodec/nic*.c the best target's count of covered edges
# is kept (a lower bound of what all of them cover together), and the sum
# is printed per file.
set -eu

logdir=$1
shift
mkdir -p "$logdir"
: >"$logdir/functions.txt"
while [ $# -gt 0 ]; do
    spec=$1
    shift
    name=${spec%%=*}
    bin=${spec#*=}
    models=
    case $bin in *:*) models=${bin#*:}; bin=${bin%%:*};; esac
    dirs=
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        [ -d "$1" ] && dirs="$dirs $1"
        shift
    done
    [ $# -gt 0 ] && shift
    NIC_MODEL_PATH=${models:-${NIC_MODEL_PATH:-}} OPENBLAS_NUM_THREADS=1 \
        nice "$bin" -runs=0 -print_coverage=1 $dirs >"$logdir/$name.log" 2>&1
    # "COVERED_FUNC: hits: H edges: A/B NAME FILE:LINE"
    grep -a '_FUNC: ' "$logdir/$name.log" | grep -a '/libavcodec/nic[^/]*\.c:' |
        awk -v t="$name" '{ split($5, e, "/"); print $7, $6, e[1], e[2], t }' \
        >>"$logdir/functions.txt"
done

awk '{
    key = $1 " " $2
    if (!(key in best) || $3 > best[key]) { best[key] = $3; total[key] = $4 }
}
END {
    for (key in best) {
        split(key, k, " ")
        file = k[1]; sub(/:[0-9]+$/, "", file); sub(/.*\//, "", file)
        cov[file] += best[key]; all[file] += total[key]
        cov["all"] += best[key]; all["all"] += total[key]
    }
    for (f in cov)
        if (f != "all")
            printf "1 %-17s %5d / %5d edges  %5.1f%%\n", f, cov[f], all[f], 100 * cov[f] / all[f]
    printf "2 %-17s %5d / %5d edges  %5.1f%%\n", "nic*.c", cov["all"], all["all"],
           100 * cov["all"] / all["all"]
}' "$logdir/functions.txt" | sort | cut -c3-
