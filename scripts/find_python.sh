# Sourced by the setup scripts: find_python NAME prints an interpreter for NAME (e.g. python3.13), from PATH or
# from pyenv, which installs 3.10-3.13 without putting them all on PATH.
find_python() {
  if "$1" -c "" 2>/dev/null; then echo "$1"; return; fi
  local found
  found=$(ls -d "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"${1#python}".*/bin/"$1" 2>/dev/null | tail -1)
  [ -n "$found" ] || { echo "no $1 interpreter (install it, e.g. with pyenv)" >&2; return 1; }
  echo "$found"
}
