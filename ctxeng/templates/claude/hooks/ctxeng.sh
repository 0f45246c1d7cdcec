#!/bin/sh
# Launcher installed by ctxeng (`ctxeng install --claude` / `--mcp`); `ctxeng uninstall` removes it.
# ctxeng-launcher-id: 5b1e0c7a
#
# Claude Code runs hooks and MCP servers with its own PATH, where a ctxeng installed in a virtual
# environment is usually missing. This script finds it: the Python that ran `ctxeng install` in this
# clone (recorded in .ctxeng/install/python, never committed), else `ctxeng` on PATH. When neither can
# run, it appends one line to .ctxeng/hooks.log, which `ctxeng status` reports; a hook (--hook) then
# exits 0, so the user's prompt and session go on without ctxeng's context.

root=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd) || exit 0
hook=0
for arg in "$@"; do
    [ "$arg" = --hook ] && hook=1
done

failed() {
    if [ ! -d "$root/.ctxeng" ]; then
        mkdir -p "$root/.ctxeng" 2>/dev/null && printf '*\n' > "$root/.ctxeng/.gitignore"
    fi
    printf '%s ctxeng %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" "$reason" >> "$root/.ctxeng/hooks.log" 2>/dev/null
    echo "ctxeng: $reason (logged in .ctxeng/hooks.log; run \`ctxeng install\` again to fix it)" >&2
    [ "$hook" = 1 ] && exit 0
    exit 1
}

python=
if [ -r "$root/.ctxeng/install/python" ]; then
    IFS= read -r python < "$root/.ctxeng/install/python"
fi
if [ -n "$python" ] && [ -x "$python" ]; then
    CTXENG_LAUNCHER_ROOT=$root exec "$python" -c '
import os, sys, time
try:
    from ctxeng.cli import main
except ImportError as exc:
    line = "%s ctxeng %s: %s cannot import ctxeng (%s)\n" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), " ".join(sys.argv[1:]), sys.executable, exc)
    try:
        with open(os.path.join(os.environ["CTXENG_LAUNCHER_ROOT"], ".ctxeng", "hooks.log"), "a") as log:
            log.write(line)
    except OSError:
        pass
    sys.stderr.write("ctxeng: " + line.split(": ", 1)[1])
    sys.exit(0 if "--hook" in sys.argv else 1)
sys.exit(main(sys.argv[1:]))
' "$@"
fi
if command -v ctxeng >/dev/null 2>&1; then
    exec ctxeng "$@"
fi
if [ -n "$python" ]; then
    reason="cannot run ctxeng: $python (recorded by ctxeng install) is gone and ctxeng is not on PATH"
else
    reason="cannot run ctxeng: not installed in this clone (ctxeng install) and not on PATH"
fi
failed "$@"
