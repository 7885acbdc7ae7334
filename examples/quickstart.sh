#!/bin/sh
# drover's quick start: build, then plan → apply → apply again (0 changed).
#
# As root with OpenSSH's sshd installed, it brings up three throwaway SSH hosts
# from the project's test fleet (each its own root filesystem view) and pushes
# examples/web to them over SSH. Otherwise it applies examples/local to this
# machine through the local connection, into a scratch directory.
set -eu
cd "$(dirname "$0")/.."
drover=${DROVER:-./bin/drover}
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
	step() { printf '\n==> %s\n' "$*"; }
fi

if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ] && command -v unshare >/dev/null; then
	dir=$(mktemp -d /tmp/drover-quickstart.XXXXXX)
	step "starting 3 SSH hosts (bin/fleet up -n 3 -dir $dir)"
	go build -o bin/fleet ./integration/cmd/fleet
	./bin/fleet up -n 3 -dir "$dir" >"$dir.log" 2>&1 &
	fleet=$!
	stop() {
		st=$?
		kill $fleet 2>/dev/null && wait $fleet 2>/dev/null
		rm -rf "$dir" "$dir.log" "$dir.web.hcl"
		exit $st
	}
	trap stop EXIT INT TERM
	i=0
	until grep -q 'hosts up' "$dir.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $fleet 2>/dev/null; then
			cat "$dir.log" >&2
			echo "quickstart: the fleet did not come up" >&2
			exit 1
		fi
		sleep 0.1
	done
	sed -n '1,/^try:/p' "$dir.log" | sed '$d'
	# The example's play targets group "web": make the fleet that group.
	printf 'group "web" {\n  children = ["fleet"]\n}\n' >"$dir.web.hcl"
	set -- -i "$dir/inventory.hcl" -i "$dir.web.hcl" examples/web/site.hcl
else
	scratch=$(mktemp -d /tmp/drover-demo.XXXXXX)
	echo "(not root or no sshd: applying examples/local to this machine, in $scratch)"
	set -- -i examples/local/inventory.hcl examples/local/site.hcl --var "dir=$scratch"
fi

step "drover plan $*"
"$drover" plan "$@"
step "drover apply $*"
"$drover" apply "$@"
step "drover apply again: nothing left to change"
"$drover" apply "$@"
