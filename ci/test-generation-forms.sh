#!/usr/bin/env bash
# The other ways users generate a project: `--git <url>` (here a file:// clone of
# this repository) and the interactive prompts (every default accepted at a TTY).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test-generation-forms: $*" >&2; exit 1; }

# --git: generation from a repository, with no subfolder argument.
mkdir -p "$work/repo"
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | (cd "$root" && xargs -0 cp --parents -t "$work/repo" 2>/dev/null || true)
git -C "$work/repo" init -q -b main
git -C "$work/repo" -c user.name=t -c user.email=t@example.invalid add -A
git -C "$work/repo" -c user.name=t -c user.email=t@example.invalid commit -q -m template
"$root/ci/cargo-generate.sh" --git "file://$work/repo" --name from-git --silent \
  --destination "$work/git-out" >/dev/null 2>&1 || fail "--git generation failed"
bash "$root/ci/check-generated.sh" "$work/git-out/from-git"
[ -d "$work/git-out/from-git/.git" ] || fail "--git generation did not initialise the project's own repository"
[ "$(git -C "$work/git-out/from-git" rev-list --all --count 2>/dev/null || echo 0)" = 0 ] \
  || fail "the project carries the template's git history"

# --path copies untracked files too: local state must never reach a project.
printf 'JWT_SECRET=local-only\n' > "$work/repo/template/.env"
mkdir -p "$work/repo/template/target/debug" "$work/repo/template/data"
touch "$work/repo/template/target/debug/stale" "$work/repo/template/data/local.sqlite3"
"$root/ci/cargo-generate.sh" --path "$work/repo" --name from-path --silent --vcs none \
  --destination "$work/path-out" >/dev/null 2>&1 || fail "--path generation failed"
for local_file in .env target data; do
  [ ! -e "$work/path-out/from-path/$local_file" ] || fail "untracked local '$local_file' reached the project"
done
bash "$root/ci/check-generated.sh" "$work/path-out/from-path"

# Interactive: answer every prompt with Enter (its default) through a pseudo-terminal.
mkdir -p "$work/tty-out"
python3 - "$root" "$work/tty-out" <<'PY' || fail "interactive generation failed"
import os, pty, select, sys, time
root, dest = sys.argv[1], sys.argv[2]
argv = [os.path.join(root, "ci/cargo-generate.sh"), "--path", root, "--name", "from-tty",
        "--destination", dest]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
deadline, transcript = time.time() + 120, b""
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 1.0)
    if not ready:
        os.write(fd, b"\r")  # output went quiet: a prompt waits for its default
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    transcript += chunk
_, status = os.waitpid(pid, 0)
text = transcript.decode(errors="replace")
for prompt in ("sub-template", "description", "GitHub Actions", "production artifacts"):
    if prompt not in text:
        print(f"interactive: prompt about {prompt!r} never shown", file=sys.stderr); sys.exit(1)
sys.exit(os.waitstatus_to_exitcode(status))
PY
bash "$root/ci/check-generated.sh" "$work/tty-out/from-tty"
echo "test-generation-forms: --git and interactive generation ok"
