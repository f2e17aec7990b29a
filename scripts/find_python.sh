#!/bin/sh
# Print the path of a Python >= 3.12 already on this machine, or nothing.
# Looked for, in order: python3.13, python3.12 and python3 on PATH (each must really
# run: a pyenv shim for a version that is installed but not selected does not), then
# the interpreters pyenv has installed (newest first). Nothing is downloaded.
ok() { "$1" -c 'import sys; sys.exit(not sys.version_info >= (3, 12))' >/dev/null 2>&1; }
for name in python3.13 python3.12 python3; do
  path=$(command -v "$name" 2>/dev/null) || continue
  if ok "$path"; then
    # a shim resolves to the real interpreter, which stays valid outside this shell
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
root=${PYENV_ROOT:-}
[ -n "$root" ] || root=$(pyenv root 2>/dev/null) || root=
[ -n "$root" ] || root="$HOME/.pyenv"
for dir in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -t. -k2,2nr -k3,3nr); do
  for exe in "$dir"/bin/python3; do
    if [ -x "$exe" ] && ok "$exe"; then
      echo "$exe"
      exit 0
    fi
  done
done
exit 1
