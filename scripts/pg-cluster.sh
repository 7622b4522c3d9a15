#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, in one directory, reachable only through
# a unix socket in that directory (no TCP), with fsync kept on (real durability).
#   scripts/pg-cluster.sh start DIR   create the cluster in DIR if needed, start it, print its URI
#   scripts/pg-cluster.sh stop DIR    stop it (fast shutdown); DIR is left for the caller to remove
#   scripts/pg-cluster.sh uri DIR     print its URI: postgresql://USER@/postgres?host=DIR
# initdb refuses to run as root: as root, the cluster runs as the `postgres` user (else `nobody`).
# The binaries are Debian's (/usr/lib/postgresql/<version>/bin, 15 preferred); PG_BIN overrides.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|uri DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$2
[ -n "$dir" ] || usage
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then
    echo "$PG_BIN"
    return
  fi
  local candidate
  for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$candidate/initdb" ]; then
      echo "$candidate"
      return
    fi
  done
  echo "pg-cluster: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)" >&2
  exit 1
}

# The OS user the server runs as, and how to run a command as that user.
if [ "$(id -u)" -eq 0 ]; then
  if getent passwd postgres >/dev/null; then os_user=postgres; else os_user=nobody; fi
  # From /: the caller's directory may be closed to that user (PostgreSQL's tools complain about it).
  as_user() { (cd / && runuser -u "$os_user" -- "$@"); }
else
  os_user=$(id -un)
  as_user() { "$@"; }
fi

# The socket directory goes in a URI query: percent-encode everything but unreserved characters and '/'.
uri_encode() {
  local text=$1 out='' ch i
  local LC_ALL=C
  for ((i = 0; i < ${#text}; i++)); do
    ch=${text:i:1}
    case "$ch" in
      [A-Za-z0-9/._~-]) out+=$ch ;;
      *) out+=$(printf '%%%02X' "'$ch") ;;
    esac
  done
  printf '%s' "$out"
}

print_uri() {
  local db_user
  db_user=$(cat "$dir/user" 2>/dev/null) || {
    echo "pg-cluster: no cluster in $dir" >&2
    exit 1
  }
  printf 'postgresql://%s@/postgres?host=%s\n' "$db_user" "$(uri_encode "$dir")"
}

case "$action" in
  start)
    bin=$(find_bin)
    mkdir -p "$dir"
    # A unix socket path is limited to 107 bytes: DIR/.s.PGSQL.5432 must fit.
    if [ $((${#dir} + 15)) -gt 107 ]; then
      echo "pg-cluster: $dir is too long for a unix socket path (at most 92 characters)" >&2
      exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      chown "$os_user" "$dir"
      chmod 0700 "$dir"
      as_user test -w "$dir" || {
        echo "pg-cluster: $os_user cannot write to $dir (are its parent directories searchable?)" >&2
        exit 1
      }
      # Trust on the socket only: the socket lives in DIR (mode 0700), so only its owner (and root) reach it.
      as_user "$bin/initdb" -D "$dir/data" -U "$os_user" --locale=C -E UTF8 --no-sync \
        --auth-local=trust --auth-host=reject >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
      cat >>"$dir/data/postgresql.conf" <<EOF
# scripts/pg-cluster.sh: a unix socket in the cluster's directory, no TCP; fsync stays on.
listen_addresses = ''
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
max_connections = 200
fsync = on
EOF
      printf '%s\n' "$os_user" >"$dir/user"
    fi
    if ! as_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
      }
    fi
    print_uri
    ;;
  stop)
    bin=$(find_bin)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  uri)
    print_uri
    ;;
  *)
    usage
    ;;
esac
