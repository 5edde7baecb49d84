# shellcheck shell=bash
# Makes the toolchain available on a fresh clone, without anything done by hand. Sourced by ./touchstream
# (it puts Node and pnpm on PATH for the caller). Idempotent and silent when everything is there; each step
# it takes prints one line on stderr (stdout stays the command's own).
#
#   - Node >= 22: the system one, else Node 24 from the npm registry into .tools/node24
#   - pnpm 10 into .tools/pnpm
#   - npm dependencies (pnpm install --frozen-lockfile) when node_modules is missing or older than the lockfile
#   - the Apache Kafka jars (mvn, tools/kafka/pom.xml → tools/kafka/lib) when missing or stale
#   - java 17+, mvn and redis-server: says what to install (installs redis-server itself as root on Debian)
#
# TOUCHSTREAM_NO_BOOTSTRAP=1 skips all of it (an environment that provides the toolchain itself).

ts_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ts_say() { printf 'bootstrap: %s\n' "$*" >&2; }

# Runs a step quietly; on failure shows its output and fails.
ts_step() {
  local what="$1"; shift
  ts_say "$what"
  local out
  out="$(mktemp)"
  if ! "$@" >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    ts_say "failed: $what"
    return 1
  fi
  rm -f "$out"
}

ts_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ts_bootstrap_node() {
  local local_bin="$ts_root/.tools/node24/node_modules/.bin"
  if [[ -x "$local_bin/node" ]] && (( $(ts_node_major "$local_bin/node") >= 22 )); then
    PATH="$local_bin:$PATH"
    return 0
  fi
  if command -v node >/dev/null && (( $(ts_node_major) >= 22 )); then
    return 0
  fi
  local have="none"
  command -v node >/dev/null && have="$(node --version 2>/dev/null)"
  if ! command -v npm >/dev/null; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
      ts_step "installing npm (apt-get install -y npm) to fetch Node 24" \
        bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y npm' || return 1
    else
      ts_say "Node >= 22 is needed (found: $have) and npm is missing to fetch it: install Node 22+ (https://nodejs.org) or npm (apt-get install -y npm)"
      return 1
    fi
  fi
  ts_step "installing Node 24 into .tools/node24 (system node: $have)" \
    npm install --prefix "$ts_root/.tools/node24" --no-save --no-audit --no-fund node@24 || return 1
  PATH="$local_bin:$PATH"
}

ts_bootstrap_pnpm() {
  local local_bin="$ts_root/.tools/pnpm/node_modules/.bin"
  if [[ ! -x "$local_bin/pnpm" ]]; then
    ts_step "installing pnpm 10 into .tools/pnpm" \
      npm install --prefix "$ts_root/.tools/pnpm" --no-save --no-audit --no-fund pnpm@10 || return 1
  fi
  PATH="$local_bin:$PATH"
}

ts_bootstrap_deps() {
  local marker="$ts_root/node_modules/.modules.yaml"
  if [[ ! -f "$marker" || "$ts_root/pnpm-lock.yaml" -nt "$marker" ]]; then
    ts_step "installing npm dependencies (pnpm install --frozen-lockfile)" \
      bash -c 'cd "$1" && pnpm install --frozen-lockfile' _ "$ts_root" || return 1
    # pnpm leaves .modules.yaml alone when nothing changed; the timestamp records that this lockfile is installed.
    touch "$marker"
  fi
}

ts_java_major() {
  local out
  out="$(java -version 2>&1 || true)"
  # `openjdk version "17.0.15" 2025-04-15`, or `"1.8.0_402"` for Java 8.
  if [[ $out =~ version\ \"([0-9]+)(\.([0-9]+))? ]]; then
    if [[ ${BASH_REMATCH[1]} == 1 ]]; then echo "${BASH_REMATCH[3]:-0}"; else echo "${BASH_REMATCH[1]}"; fi
  else
    echo 0
  fi
}

# Java, Maven and redis-server are only needed for the local engines (not for unit tests or `--help`), so
# what is missing is reported, not fatal; the stack launcher refuses to start with the same messages.
ts_bootstrap_engines() {
  local missing=()
  if ! command -v redis-server >/dev/null; then
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
      ts_step "installing redis-server (apt-get install -y redis-server)" \
        bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server' ||
        missing+=("redis-server (apt-get install -y redis-server)")
    else
      missing+=("redis-server (apt-get install -y redis-server)")
    fi
  fi
  local java_ok=1
  if ! command -v java >/dev/null; then
    java_ok=0; missing+=("Java 17+ (apt-get install -y openjdk-17-jre-headless)")
  elif (( $(ts_java_major) < 17 )); then
    java_ok=0; missing+=("Java 17+, found Java $(ts_java_major) (apt-get install -y openjdk-17-jre-headless)")
  fi

  # Same convention as ensureKafkaJars() in tools/stack: lib/.complete holds the sha256 of the pom.
  local kafka="$ts_root/tools/kafka"
  local want
  want="$(sha256sum "$kafka/pom.xml" | cut -d' ' -f1)"
  if [[ "$(cat "$kafka/lib/.complete" 2>/dev/null)" != "$want" ]]; then
    if ! command -v mvn >/dev/null; then
      missing+=("Maven, to download the Kafka jars once (apt-get install -y maven)")
    elif (( java_ok )); then
      # Into a temporary folder under .tools/ (gitignored) that replaces lib/ only when Maven succeeded.
      local tmp="$ts_root/.tools/kafka-lib.tmp-$$"
      rm -rf "$tmp"
      mkdir -p "$ts_root/.tools"
      if ts_step "downloading the Apache Kafka jars (mvn, tools/kafka/pom.xml → tools/kafka/lib)" \
        mvn -q -B -f "$kafka/pom.xml" dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime; then
        echo "$want" >"$tmp/.complete"
        rm -rf "$kafka/lib"
        mv "$tmp" "$kafka/lib"
      else
        rm -rf "$tmp"
        return 1
      fi
    fi
  fi

  local m
  for m in ${missing[@]+"${missing[@]}"}; do ts_say "missing for the local engines (Kafka, Redis): $m"; done
  return 0
}

# The workspace's browser tests (test/workspace) drive Debian's Chromium through playwright-core: no browser
# download from a CDN. Called by `./touchstream test` only (the app itself needs no browser).
ts_ensure_chromium() {
  [[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]] && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    ts_step "installing chromium for the browser tests (apt-get install -y chromium)" \
      bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium' || return 1
  else
    ts_say "the browser tests (test/workspace) need Chromium at /usr/bin/chromium: apt-get install -y chromium (or set CHROMIUM_PATH)"
  fi
}

ts_bootstrap() {
  [[ "${TOUCHSTREAM_NO_BOOTSTRAP:-}" == 1 ]] && return 0
  ts_bootstrap_node || return 1
  ts_bootstrap_pnpm || return 1
  ts_bootstrap_deps || return 1
  ts_bootstrap_engines || return 1
  export PATH
}

ts_bootstrap
