# Shared by tools/deps*.sh (sourced, not run): the two install steps every one of them needs.

# deps_apt NAME PACKAGE...: installs the Debian packages not yet installed (apt-get, as root).
deps_apt() {
    local name=$1 p
    shift
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "$name: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "$name: run as root (apt-get) or install: ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# deps_npm NAME DIR MARKER: npm ci in DIR (pinned by its package-lock.json) unless node_modules is
# newer than the lockfile and holds MARKER. Installs Debian's npm first when there is no npm (an
# npm that came with another nodejs package is used as it is).
deps_npm() {
    local name=$1 dir=$2 marker=$3
    command -v npm >/dev/null 2>&1 || deps_apt "$name" npm
    if [ -f "$dir/node_modules/.package-lock.json" ] &&
        [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] &&
        [ -e "$dir/node_modules/$marker" ]; then
        return 0
    fi
    echo "$name: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}
