#!/usr/bin/env bash
# Submits sharded embedding to Slurm: a job array of N shard tasks
# (embed-array.sbatch), then the merge (embed-merge.sbatch), which starts
# only after every task succeeded (afterok) and is cancelled if one fails.
#
#   REELMATCH_WORK=/shared/work deploy/slurm/submit.sh 4 [sbatch options...]
#
# sbatch options (e.g. --partition=gpu, --cpus-per-task=8, --mem=4G,
# --output=logs/%x-%A_%a.out) apply to both jobs. Prints
# "array=<job id> merge=<job id>" on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
n=${1:-}
case $n in
'' | *[!0-9]*) echo "usage: $0 N [sbatch options...] (N shards, at least 1)" >&2; exit 2 ;;
esac
if [ "$n" -lt 1 ]; then
	echo "usage: $0 N [sbatch options...] (N shards, at least 1)" >&2
	exit 2
fi
shift
: "${REELMATCH_WORK:?set REELMATCH_WORK to the WORK folder (run reelmatch prepare there first)}"

array=$(sbatch --parsable --array="0-$((n - 1))" "$@" "$here/embed-array.sbatch")
array=${array%%;*} # --parsable prints "id;cluster" on multi-cluster setups
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes "$@" "$here/embed-merge.sbatch")
merge=${merge%%;*}
echo "array=$array merge=$merge"
