#!/usr/bin/env bash
# peers.sh: weir side by side with nginx and HAProxy, each in front of the
# same demo backend, loaded by wrk in one run.
#
#   bench/peers.sh                          # from anywhere in the repository
#   ROUNDS=3 bench/peers.sh                 # medians of 3 rounds (noisy machine)
#   WEIR_ENV="GOGC=200" bench/peers.sh      # extra environment for weir
#
# For each target (the backend directly, weir, nginx, haproxy) it warms up
# for WARMUP seconds, then runs `wrk -tTHREADS -cCONNS -dDURATIONs --latency`
# against GET /bytes?n=1024 (a 1 KiB body) ROUNDS times, targets taking turns,
# and prints requests/s, p50/p99 latency, throughput as a ratio to weir, the
# proxy's CPU time per request (user + system of all its processes, from
# /proc/PID/stat, divided by the requests wrk completed: on a small, noisy
# machine the fairest of the figures), its resident memory and wrk's error
# count (non-2xx answers and socket errors).
#
# It installs nothing. It needs wrk, go and curl, and runs whichever of nginx
# and haproxy it finds (Debian: apt-get install -y wrk nginx-light haproxy).
# Every server listens on 127.0.0.1 only (PORT_BASE .. PORT_BASE+3); configs
# and logs live in a temporary directory; every process it starts is stopped
# at exit. A run takes about 4 * (WARMUP + 1 + ROUNDS * (DURATION + 1)) s,
# under a minute by default; settings that would pass 170 s are refused.
#
# Fairness: every proxy may use both cores (weir's GOMAXPROCS, nginx
# worker_processes auto, haproxy's default nbthread), keeps its backend
# connections alive (weir's pool, nginx upstream keepalive 64, haproxy
# http-reuse safe), adds X-Forwarded-For, and logs nothing. wrk, the backend
# and the proxy share the machine's cores, so requests/s understates every
# proxy alike; the demo backend is itself the costliest process per request.
set -euo pipefail

DURATION=${DURATION:-10}   # seconds of each measured run
WARMUP=${WARMUP:-2}        # seconds of warm-up before each run
CONNS=${CONNS:-64}         # wrk connections
THREADS=${THREADS:-2}      # wrk threads
PORT_BASE=${PORT_BASE:-18180}
PATH_QUERY=${PATH_QUERY:-/bytes?n=1024}
ROUNDS=${ROUNDS:-1}        # measured runs per target; the table shows medians
WEIR_ENV=${WEIR_ENV:-}     # extra environment for weir, e.g. "GOGC=200 GOMAXPROCS=1"

die() { echo "peers.sh: $*" >&2; exit 1; }

for v in DURATION WARMUP CONNS THREADS PORT_BASE ROUNDS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
((ROUNDS >= 1)) || die "ROUNDS must be at least 1"
(( (WARMUP + 1 + ROUNDS * (DURATION + 1)) * 4 <= 170 )) ||
	die "WARMUP + ROUNDS * DURATION too long: the whole run must stay under 3 minutes"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v wrk >/dev/null || die "wrk not found (Debian: apt-get install -y wrk)"
command -v go >/dev/null || die "go not found"
have_nginx=0; command -v nginx >/dev/null && have_nginx=1
have_haproxy=0; command -v haproxy >/dev/null && have_haproxy=1
((have_nginx)) || echo "peers.sh: nginx not found, skipping it (Debian: apt-get install -y nginx-light)" >&2
((have_haproxy)) || echo "peers.sh: haproxy not found, skipping it (Debian: apt-get install -y haproxy)" >&2

backend_port=$PORT_BASE
weir_port=$((PORT_BASE + 1))
nginx_port=$((PORT_BASE + 2))
haproxy_port=$((PORT_BASE + 3))

# port_open reports whether something accepts connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for p in "$backend_port" "$weir_port" "$nginx_port" "$haproxy_port"; do
	! port_open "$p" || die "127.0.0.1:$p is in use; set PORT_BASE to a free range of 4 ports"
done

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: starts CMD in the background, logging to $tmp/NAME.log.
start() {
	local name=$1; shift
	"$@" >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
}

# wait_port PORT NAME: waits up to 5 s for PORT to accept connections.
wait_port() {
	local i
	for i in $(seq 50); do
		port_open "$1" && return 0
		sleep 0.1
	done
	echo "peers.sh: $2 did not start on 127.0.0.1:$1; its log:" >&2
	cat "$tmp/$2.log" >&2 || true
	exit 1
}

echo "building bin/weir ..." >&2
go build -o bin/weir ./cmd/weir

start backend bin/weir demo-backend -listen "127.0.0.1:$backend_port"
backend_pid=${pids[-1]}
wait_port "$backend_port" backend

cat >"$tmp/weir.yaml" <<EOF
listen: 127.0.0.1:$weir_port
admin: { listen: "off" }
log: { requests: "off" }
apis:
  - name: bench
    base_path: /
    target:
      endpoints: [http://127.0.0.1:$backend_port]
EOF
# shellcheck disable=SC2086 # WEIR_ENV is a list of VAR=value words
start weir env $WEIR_ENV bin/weir run -c "$tmp/weir.yaml"
weir_pid=${pids[-1]}
wait_port "$weir_port" weir

nginx_pid=
if ((have_nginx)); then
	user_line=
	[[ $(id -u) == 0 ]] && user_line="user root;"
	cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes auto;
$user_line
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx-body;
	proxy_temp_path $tmp/nginx-proxy;
	fastcgi_temp_path $tmp/nginx-fastcgi;
	uwsgi_temp_path $tmp/nginx-uwsgi;
	scgi_temp_path $tmp/nginx-scgi;
	keepalive_requests 1000000;
	upstream backend {
		server 127.0.0.1:$backend_port;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$nginx_port;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
		}
	}
}
EOF
	start nginx nginx -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf"
	nginx_pid=${pids[-1]}
	wait_port "$nginx_port" nginx
fi

haproxy_pid=
if ((have_haproxy)); then
	cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn 4096
defaults
	mode http
	timeout connect 3s
	timeout client 60s
	timeout server 60s
	option forwardfor
	http-reuse safe
frontend fe
	bind 127.0.0.1:$haproxy_port
	default_backend be
backend be
	server s1 127.0.0.1:$backend_port
EOF
	start haproxy haproxy -db -f "$tmp/haproxy.cfg"
	haproxy_pid=${pids[-1]}
	wait_port "$haproxy_port" haproxy
fi

clk_tck=$(getconf CLK_TCK)

# cpu_ticks PID: user + system clock ticks of PID and its live children
# (nginx's workers).
cpu_ticks() {
	local total=0 p stat rest
	for p in "$1" $(pgrep -P "$1" || true); do
		stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		rest=${stat##*) }
		read -r -a f <<<"$rest"
		total=$((total + f[11] + f[12]))
	done
	echo "$total"
}

# rss_kib PID: resident memory of PID and its live children, in KiB.
rss_kib() {
	local total=0 p kb
	for p in "$1" $(pgrep -P "$1" || true); do
		kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		total=$((total + ${kb:-0}))
	done
	echo "$total"
}

# to_ms VALUE: wrk's latency ("812.00us", "1.23ms", "1.01s") in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
		else printf "?" }'
}

# check NAME PORT: one request must come back 200 with 1 KiB before loading.
check() {
	local out
	out=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code} %{size_download}' --max-time 5 "http://127.0.0.1:$2$PATH_QUERY" 2>/dev/null || true)
	[[ -z $out || $out == "200 1024" || $PATH_QUERY != "/bytes?n=1024" ]] ||
		die "$1 answered \"$out\" (status, bytes) to $PATH_QUERY; want \"200 1024\""
}
command -v curl >/dev/null || check() { :; }

targets=(direct weir)
((have_nginx)) && targets+=(nginx)
((have_haproxy)) && targets+=(haproxy)
declare -A port=([direct]=$backend_port [weir]=$weir_port [nginx]=$nginx_port [haproxy]=$haproxy_port)
declare -A pid=([direct]=$backend_pid [weir]=$weir_pid [nginx]=$nginx_pid [haproxy]=$haproxy_pid)

# Each round loads every target once, in turn; with ROUNDS > 1 the table
# shows each figure's median over the rounds, which tames a noisy machine.
for t in "${targets[@]}"; do
	check "$t" "${port[$t]}"
	echo "wrk $t: warm-up ${WARMUP}s ..." >&2
	timeout $((WARMUP + 10)) wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "http://127.0.0.1:${port[$t]}$PATH_QUERY" >/dev/null
done
for round in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		echo "wrk $t: round $round of $ROUNDS, ${DURATION}s ..." >&2
		out="$tmp/wrk-$t-$round.txt"
		c0=$(cpu_ticks "${pid[$t]}")
		timeout $((DURATION + 10)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency \
			"http://127.0.0.1:${port[$t]}$PATH_QUERY" >"$out"
		c1=$(cpu_ticks "${pid[$t]}")
		n=$(awk '/requests in/ { print $1 }' "$out")
		{
			awk '/^Requests\/sec:/ { printf "%.0f ", $2 }' "$out"
			printf '%s %s ' "$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")" "$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
			awk -v d=$((c1 - c0)) -v hz="$clk_tck" -v n="$n" 'BEGIN { if (n > 0) printf "%.1f ", d / hz * 1e6 / n; else printf "? " }'
			awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' "$out"
		} >>"$tmp/rounds-$t.txt"
	done
done

# median FILE COLUMN: the median of a column of numbers.
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A rps p50 p99 cpu rss errs
for t in "${targets[@]}"; do
	f="$tmp/rounds-$t.txt"
	rps[$t]=$(median "$f" 1)
	p50[$t]=$(median "$f" 2)
	p99[$t]=$(median "$f" 3)
	cpu[$t]=$(median "$f" 4)
	errs[$t]=$(awk '{ e += $5 } END { print e + 0 }' "$f")
	rss[$t]=$(awk -v k="$(rss_kib "${pid[$t]}")" 'BEGIN { printf "%.1f", k / 1024 }')
done

printf '\nGET %s, wrk -t%s -c%s -d%ss, %s round(s) (medians), %s cores, load %s, %s\n' "$PATH_QUERY" "$THREADS" "$CONNS" "$DURATION" \
	"$ROUNDS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u +%Y-%m-%dT%H:%MZ)"
[[ -z $WEIR_ENV ]] || printf 'weir runs with %s\n' "$WEIR_ENV"
printf '%-8s %10s %9s %9s %8s %12s %8s %7s\n' peer "req/s" "p50 ms" "p99 ms" "vs weir" "cpu us/req" "rss MiB" errors
for t in "${targets[@]}"; do
	ratio=$(awk -v a="${rps[$t]}" -v b="${rps[weir]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
	printf '%-8s %10s %9s %9s %8s %12s %8s %7s\n' "$t" "${rps[$t]}" "${p50[$t]}" "${p99[$t]}" "$ratio" "${cpu[$t]}" "${rss[$t]}" "${errs[$t]}"
done
printf '(direct: wrk to the backend, no proxy; its cpu and rss are the backend'"'"'s. Others: the proxy'"'"'s own processes.)\n'
