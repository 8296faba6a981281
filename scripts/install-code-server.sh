#!/usr/bin/env bash
# Installs a real code-server from the npm registry into a cache directory outside the
# project's dependencies, for the dev plugin's browser test (test/plugins/dev/ide-browser.test.ts).
set -euo pipefail

VERSION="${CODE_SERVER_VERSION:-4.100.3}"
CACHE="${PANEL_CODE_SERVER_CACHE:-/var/cache/panel-code-server}"

usage() {
  cat <<EOF
Usage: scripts/install-code-server.sh [--print-bin] [--force]

Installs code-server $VERSION (the newest release whose engines accept Node 20) with npm into
\$PANEL_CODE_SERVER_CACHE/<version> (default /var/cache/panel-code-server/$VERSION), never into
the project's node_modules. Idempotent: an install that is already there and starts is kept,
and the script then takes well under a second. Prints the code-server binary's path last.

What a plain \`npm install code-server\` needs here, and this script supplies:
  - Debian packages to build its native modules (libkrb5-dev for kerberos; build-essential,
    python3) and Debian's ripgrep, installed with apt-get when missing;
  - Node's own headers (npm_config_nodedir), so node-gyp downloads none;
  - npm_config_unsafe_perm=true, which its postinstall insists on under root, and
    npm_config_yes=true, as node-pty's postinstall runs npx, which asks before installing;
  - ripgrep without the internet: @vscode/ripgrep's postinstall downloads a prebuilt rg from
    GitHub unless the archive is already in its cache, os.tmpdir()/vscode-ripgrep-cache-<version>/.
    The script points TMPDIR at a private folder and puts there an archive of Debian's rg
    (ripgrep 13.0.0, the version the prebuilt has), which the postinstall then unpacks.
Fails (exit 1) with the reason when anything is missing; it never skips.

Options:
  --print-bin   print where the binary is (or would be) and exit, installing nothing
  --force       install again even when an install is there
  -h, --help    show this help

Environment: CODE_SERVER_VERSION (default 4.100.3), PANEL_CODE_SERVER_CACHE.
EOF
}

force=false
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --print-bin) echo "$CACHE/$VERSION/node_modules/.bin/code-server"; exit 0 ;;
    --force) force=true ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

dest="$CACHE/$VERSION"
bin="$dest/node_modules/.bin/code-server"
started=$(date +%s)

fail() { echo "install-code-server: $*" >&2; exit 1; }

# An install counts once it finished (the marker) and its binary answers --version.
if [ "$force" = false ] && [ -f "$dest/.installed" ] && "$bin" --version >/dev/null 2>&1; then
  echo "code-server $VERSION is installed in $dest"
  echo "$bin"
  exit 0
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
engines=$(npm view "code-server@$VERSION" engines.node 2>/dev/null) || fail "npm could not find code-server@$VERSION"
[ "$engines" = "$node_major" ] || fail "code-server@$VERSION wants Node $engines, this is Node $node_major"

# Debian packages: what builds the native modules, and the ripgrep binary.
missing=()
for pair in rg:ripgrep g++:build-essential make:build-essential python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ -f /usr/include/krb5.h ] || [ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; } || fail "apt-get could not install ${missing[*]}"
fi
rg_bin=$(command -v rg) || fail "no rg after installing ripgrep"

# Node's headers, so node-gyp builds against them instead of downloading a copy.
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -f "$node_prefix/include/node/node_api.h" ] || fail "Node's headers are not in $node_prefix/include/node (node-gyp would download them)"

mkdir -p "$CACHE"
work="$CACHE/.$VERSION.partial.$$"  # per process: two runs at once do not share a half-built tree
rm -rf "$work"
mkdir -p "$work/tmp"
trap 'rm -rf "$work"' EXIT

# The tarball (cached by npm), so the ripgrep version it pins can be read before installing.
(cd "$work" && npm pack --silent "code-server@$VERSION" >/dev/null) || fail "npm pack code-server@$VERSION failed"
tgz="$work/code-server-$VERSION.tgz"
rg_version=$(tar -xOzf "$tgz" package/lib/vscode/npm-shrinkwrap.json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const p = JSON.parse(s).packages["node_modules/@vscode/ripgrep"];
    if (!p) process.exit(1);
    console.log(p.version);
  });') || fail "code-server@$VERSION pins no @vscode/ripgrep"
(cd "$work" && npm pack --silent "@vscode/ripgrep@$rg_version" >/dev/null) || fail "npm pack @vscode/ripgrep@$rg_version failed"
rg_tag=$(tar -xOzf "$work/vscode-ripgrep-$rg_version.tgz" package/lib/postinstall.js | sed -n "s/^const VERSION = '\(.*\)';.*/\1/p")
[ -n "$rg_tag" ] || fail "could not read the ripgrep release @vscode/ripgrep@$rg_version downloads"
case "$(uname -m)" in
  x86_64) rg_target=x86_64-unknown-linux-musl ;;
  aarch64) rg_target=aarch64-unknown-linux-musl ;;
  *) fail "no ripgrep archive name known for $(uname -m)" ;;
esac
rg_cache="$work/tmp/vscode-ripgrep-cache-$rg_version"
mkdir -p "$rg_cache/rg"
cp "$rg_bin" "$rg_cache/rg/rg"
tar -czf "$rg_cache/ripgrep-$rg_tag-$rg_target.tar.gz" -C "$rg_cache/rg" rg
echo "ripgrep: Debian's $("$rg_bin" --version | sed -n 1p) stands in for $rg_tag ($rg_target)"

echo "installing code-server $VERSION into $dest (npm builds its native modules: a few minutes)"
echo '{"private":true}' >"$work/package.json"
(
  cd "$work"
  # npm_config_yes: node-pty's postinstall runs `npx node-gyp configure` (for a compile_commands.json),
  # which without a terminal to answer npx's prompt is cancelled and fails the install.
  export TMPDIR="$work/tmp" npm_config_unsafe_perm=true npm_config_nodedir="$node_prefix" npm_config_yes=true
  npm install --no-audit --no-fund --no-save --loglevel=error "./code-server-$VERSION.tgz"
) || fail "npm install of code-server@$VERSION failed (see above)"

lib="$work/node_modules/code-server/lib/vscode"
[ -x "$lib/node_modules/@vscode/ripgrep/bin/rg" ] || fail "ripgrep is missing from $lib/node_modules/@vscode/ripgrep/bin"
[ -d "$lib/extensions/node_modules/typescript" ] || fail "the built-in extensions' dependencies are missing"
"$work/node_modules/.bin/code-server" --version >/dev/null || fail "the installed code-server does not start"

rm -rf "$work/tmp" "$work"/*.tgz
touch "$work/.installed"
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
"$bin" --version | sed -n 1p
echo "installed code-server $VERSION in $dest in $(( $(date +%s) - started )) s"
echo "$bin"
