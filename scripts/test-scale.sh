#!/usr/bin/env bash
# make test-scale (CI runs it too): sharded embedding on a real scheduler.
#
# As root on Debian: installs slurm-wlm and munge when missing, starts a
# one-node Slurm cluster on this machine (munged, slurmctld, slurmd), submits
# deploy/slurm/submit.sh with N = 4 shards (a job array, then a merge job that
# depends on it with afterok) on the real data set ../shared/data/movielens-posters,
# or, when that is absent, on a synthetic catalogue written by
# `reelmatch demo --data-only`, waits for both, and compares the merged
# feature cache byte for byte with a one-machine `reelmatch embed` of the same
# manifest. It also validates the Kubernetes manifests in deploy/k8s against
# the Kubernetes API schema. Exits non-zero on any difference; stops the
# daemons it started; safe to run again.
#
# Environment: SCALE_DIR (work area, default /tmp/reelmatch-scale),
# SCALE_SHARDS (default 4), SCALE_SYNTH_MOVIES (default 2000),
# SCALE_TIMEOUT (seconds to wait for the jobs, default 2700), SCALE_REAL_DATA
# (the real set's folder; point it elsewhere to try the synthetic path).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
top=${SCALE_DIR:-/tmp/reelmatch-scale}
shards=${SCALE_SHARDS:-4}
synth_movies=${SCALE_SYNTH_MOVIES:-2000}
timeout=${SCALE_TIMEOUT:-2700}
real_data=${SCALE_REAL_DATA:-$repo/../shared/data/movielens-posters}
export GOEXPERIMENT=${GOEXPERIMENT-simd}

log() { echo "test-scale: $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || fail "run as root: it installs slurm-wlm and munge and starts munged, slurmctld and slurmd"

# --- packages --------------------------------------------------------------
need=()
for cmd in slurmctld slurmd sbatch squeue scontrol sinfo; do
	command -v "$cmd" >/dev/null || { need+=(slurm-wlm); break; }
done
command -v munged >/dev/null || need+=(munge)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]} (apt-get)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- daemons: stop the ones an earlier run left, start ours ----------------
rundir=$top/run
# stop_pidfile FILE NAME: ends the process FILE names if it is still NAME.
stop_pidfile() {
	local file=$1 name=$2 pid
	[ -s "$file" ] || return 0
	pid=$(cat "$file")
	if [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			[ -d "/proc/$pid" ] || break
			sleep 0.2
		done
		[ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$file"
}
stop_ours() {
	if [ -n "${jobs_submitted:-}" ]; then
		scancel $jobs_submitted 2>/dev/null || true
		sleep 1
	fi
	stop_pidfile "$rundir/slurmd.pid" slurmd
	stop_pidfile "$rundir/slurmctld.pid" slurmctld
	stop_pidfile "$rundir/munged.pid" munged
}
stop_ours
trap 'stop_ours' EXIT
rm -rf "$top/slurm" "$top/work" "$top/ref" "$top/synth" "$top/logs" "$top/k8s"
mkdir -p "$rundir" "$top/slurm/state" "$top/slurm/spool" "$top/logs" "$top/bin"

if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	log "munged already runs here; using it"
else
	if [ ! -s /etc/munge/munge.key ]; then
		mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || /usr/sbin/create-munge-key -f
	fi
	mkdir -p /run/munge /var/lib/munge /var/log/munge
	chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
	chmod 0400 /etc/munge/munge.key
	runuser -u munge -- /usr/sbin/munged --force
	cp /run/munge/munged.pid "$rundir/munged.pid"
	for _ in $(seq 50); do
		munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
		sleep 0.2
	done
	munge -n | unmunge >/dev/null || fail "munged did not start"
fi

node=$(hostname -s)
cpus=$(nproc)
conf=$top/slurm/slurm.conf
cat >"$conf" <<EOF
# One-node cluster for scripts/test-scale.sh.
ClusterName=reelmatch-scale
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$top/slurm/state
SlurmdSpoolDir=$top/slurm/spool
SlurmctldPidFile=$rundir/slurmctld.pid
SlurmdPidFile=$rundir/slurmd.pid
SlurmctldLogFile=$top/slurm/slurmctld.log
SlurmdLogFile=$top/slurm/slurmd.log
MinJobAge=3600
NodeName=$node CPUs=$cpus State=UNKNOWN
PartitionName=scale Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf
slurmctld -f "$conf" || fail "slurmctld did not start: $(tail -5 "$top/slurm/slurmctld.log" 2>/dev/null)"
slurmd -f "$conf" || fail "slurmd did not start: $(tail -5 "$top/slurm/slurmd.log" 2>/dev/null)"
state=
for _ in $(seq 120); do
	state=$(sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
	[ "$state" = idle ] && break
	sleep 0.5
done
[ "$state" = idle ] || fail "node $node is '$state', not idle: $(tail -5 "$top/slurm/slurmctld.log")"
log "Slurm $(sinfo --version | cut -d' ' -f2): node $node with $cpus CPUs is idle"

# --- the data and the one-machine reference --------------------------------
bin=$top/bin/reelmatch
go build -o "$bin" ./cmd/reelmatch
if [ -f "$real_data/info.csv" ]; then
	data=$real_data
	what="the real data set (../shared/data/movielens-posters)"
else
	"$bin" -q demo --data-only --movies "$synth_movies" --work "$top/synth" >/dev/null
	data=$top/synth/demo-data
	what="a synthetic catalogue of $synth_movies movies (reelmatch demo --data-only; ../shared/data/movielens-posters is absent)"
fi
log "data: $what"
"$bin" prepare --data "$data" --work "$top/work" >"$top/logs/prepare.txt" 2>&1 || fail "prepare: $(tail -3 "$top/logs/prepare.txt")"
mkdir -p "$top/ref"
cp "$top/work/manifest.json" "$top/ref/"
start=$(date +%s)
"$bin" -q --json embed --work "$top/ref" --encoder builtin >"$top/logs/one-machine.json"
log "one-machine embed: $(($(date +%s) - start)) s"

# --- the job array and the merge -------------------------------------------
start=$(date +%s)
ids=$(REELMATCH_WORK=$top/work REELMATCH_BIN=$bin REELMATCH_ENCODER=builtin \
	deploy/slurm/submit.sh "$shards" --chdir="$top" --output="$top/logs/%x-%A_%a.out")
array=$(echo "$ids" | sed -n 's/.*array=\([0-9]*\).*/\1/p')
merge=$(echo "$ids" | sed -n 's/.*merge=\([0-9]*\).*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || fail "submit.sh printed '$ids'"
jobs_submitted="$array $merge"
log "submitted array job $array ($shards shards) and merge job $merge (afterok:$array)"
while [ -n "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ]; do
	if [ $(($(date +%s) - start)) -gt "$timeout" ]; then
		squeue -j "$array,$merge" >&2 || true
		fail "the jobs did not finish within $timeout s"
	fi
	sleep 2
done
log "array and merge finished in $(($(date +%s) - start)) s"

# field NAME LINE: the value of NAME=value in one line of `scontrol -o`.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }
bad=0
while read -r line; do
	id=$(field JobId "$line")
	task=$(field ArrayTaskId "$line")
	jstate=$(field JobState "$line")
	code=$(field ExitCode "$line")
	if [ -n "$task" ]; then
		out=$top/logs/reelmatch-embed-${array}_${task}.out
	else
		out=$(ls "$top"/logs/reelmatch-merge-"$id"_*.out 2>/dev/null | head -1)
	fi
	movies=$(grep -o '"movies": [0-9]*' "$out" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
	log "job $id${task:+ (shard $task/$shards)}: $jstate, exit $code, ${movies:-?} movies"
	if [ "$jstate" != COMPLETED ] || [ "$code" != 0:0 ]; then
		bad=1
		sed 's/^/    /' "$out" >&2 2>/dev/null || true
	fi
done < <(scontrol -o show job "$array"; scontrol -o show job "$merge")
[ "$bad" = 0 ] || fail "a job did not complete"

# --- compare ---------------------------------------------------------------
one=$top/ref/features/builtin.safetensors
merged=$top/work/features/builtin.safetensors
[ -f "$merged" ] || fail "the merge wrote no $merged"
if ! cmp -s "$one" "$merged"; then
	fail "merged cache differs from the one-machine cache: $(sha256sum "$one" "$merged" | tr '\n' ' ')"
fi
log "merged cache of $shards shards is byte-identical to the one-machine cache ($(stat -c %s "$merged") bytes, sha256 $(sha256sum "$merged" | cut -c1-16)…)"

# --- Kubernetes manifests --------------------------------------------------
mkdir -p "$top/k8s"
cp deploy/k8s/validate/package.json deploy/k8s/validate/package-lock.json deploy/k8s/validate/validate.mjs "$top/k8s/"
(cd "$top/k8s" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) || fail "npm ci of the manifest validator (deploy/k8s/validate) failed"
node "$top/k8s/validate.mjs" deploy/k8s/embed-indexed-job.yaml deploy/k8s/embed-merge-job.yaml || fail "a Kubernetes manifest is invalid"
# The validator must catch a broken manifest, or the check above proves nothing.
sed 's/completionMode: Indexed/completionMode: Indexd/' deploy/k8s/embed-indexed-job.yaml >"$top/k8s/broken.yaml"
if node "$top/k8s/validate.mjs" "$top/k8s/broken.yaml" >/dev/null 2>&1; then
	fail "the validator accepted a manifest with completionMode: Indexd"
fi
log "Kubernetes manifests valid (and a broken one refused)"
log "PASS on $what"
