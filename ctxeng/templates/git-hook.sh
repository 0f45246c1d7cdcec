#!/bin/sh
# Git hook installed by ctxeng (`ctxeng install --git-hook`): refreshes .ctxeng/ incrementally.
# ctxeng-hook-id: 6f3c2a9e8d41b7c05e1f9a2d3b4c5e60
# `ctxeng uninstall --git-hook` removes it and puts back the hook that was here before, if any.

# start templated
CTXENG_PYTHON=/usr/bin/python3
CTXENG_ARGS='refresh --hook'
# end templated

# A hook that was here before ctxeng (kept as <name>.legacy, the way pre-commit does it) runs first with the
# same arguments; when it fails, git gets its exit code and ctxeng does nothing.
if [ -x "$0.legacy" ]; then
    "$0.legacy" "$@" || exit $?
fi

name=$(basename "$0")
case "${name%.legacy}" in
    pre-commit) ;;  # refresh what is being committed (GIT_INDEX_FILE), within the hook
    *)
        # post-commit, post-merge, post-checkout, post-rewrite: after a new HEAD a refresh can take seconds,
        # so it runs detached. A repository never built here (a new worktree) starts nothing.
        [ -f .ctxeng/manifest.json ] || exit 0
        if [ "${name%.legacy}" = post-checkout ] && [ "$3" != 1 ]; then
            exit 0  # a file checkout (`git checkout -- path`) moves no HEAD
        fi
        if [ "${name%.legacy}" = post-commit ]; then
            # a rebase or cherry-pick runs post-commit once per replayed commit: post-rewrite refreshes once
            git_dir=$(git rev-parse --git-dir 2>/dev/null) || exit 0
            for busy in rebase-merge rebase-apply sequencer; do
                [ -e "$git_dir/$busy" ] && exit 0
            done
        fi
        if [ "${name%.legacy}" = post-rewrite ] && [ "$1" != rebase ]; then
            exit 0  # an amend: post-commit already refreshed
        fi
        CTXENG_ARGS="$CTXENG_ARGS --background" ;;
esac

# Fail open: a missing or broken ctxeng prints a warning and lets git go on (unless installed with --strict).
if [ -x "$CTXENG_PYTHON" ]; then
    # shellcheck disable=SC2086  # CTXENG_ARGS holds plain words
    exec "$CTXENG_PYTHON" -c '
import sys
try:
    from ctxeng.cli import main
except ImportError as exc:
    sys.stderr.write("ctxeng: cannot run the refresh (%s); git goes on\n" % exc)
    sys.exit(1 if "--strict" in sys.argv else 0)
code = main(sys.argv[1:])
if code == 2 and "--strict" not in sys.argv:  # usage error: a ctxeng older or newer than this hook
    sys.stderr.write("ctxeng: this version does not accept the arguments of this hook; git goes on\n")
    code = 0
sys.exit(code)
' $CTXENG_ARGS
elif command -v ctxeng >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    exec ctxeng $CTXENG_ARGS
fi
echo "ctxeng: not found (installed for $CTXENG_PYTHON); skipping the refresh. Remove this hook with 'ctxeng uninstall --git-hook'." >&2
case " $CTXENG_ARGS " in
    *" --strict "*) exit 1 ;;
esac
exit 0
