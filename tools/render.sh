#!/usr/bin/env bash
# Render the book with Quarto, using the project's virtual environment for Python.
# Finds `quarto` on PATH, else in the venv, else installs it with ../shared/quarto/install-quarto.sh
# when that exists (machines that reach only package registries), else tries `pip install quarto-cli`.
set -uo pipefail
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"

find_quarto() {
  if command -v quarto >/dev/null 2>&1; then command -v quarto; return 0; fi
  if [ -x "$VENV/bin/quarto" ]; then echo "$VENV/bin/quarto"; return 0; fi
  return 1
}

# A machine that reaches only package registries has an installer beside the checkout
SHARED_INSTALLER="${AEBOOK_QUARTO_INSTALLER:-../shared/quarto/install-quarto.sh}"
if ! QUARTO="$(find_quarto)" && [ -x "$SHARED_INSTALLER" ]; then
  echo "Quarto is not on PATH; installing it with $SHARED_INSTALLER ..."
  if DIR="$("$SHARED_INSTALLER" 2>"$VENV/quarto-install.log")" && [ -x "$DIR/quarto" ]; then
    QUARTO="$DIR/quarto"
  fi
fi
if [ -z "${QUARTO:-}" ] && ! QUARTO="$(find_quarto)"; then
  echo "Quarto is not on PATH; trying 'pip install quarto-cli' into $VENV ..."
  if "$PY" -m pip install --quiet quarto-cli >"$VENV/quarto-install.log" 2>&1; then
    QUARTO="$(find_quarto)" || QUARTO=""
  fi
fi
if [ -z "${QUARTO:-}" ] || ! "$QUARTO" --version >/dev/null 2>&1; then
  cat >&2 <<MSG

Cannot render the book: Quarto (version 1.5 or newer) is not installed, and
'pip install quarto-cli' did not provide it (details: $VENV/quarto-install.log).

To fix it, install Quarto from https://quarto.org/docs/get-started/ (or run
'pip install quarto-cli' on a machine with internet access), then run 'make book' again.

Without Quarto you can still run every chapter: 'make notebooks' writes them as
Jupyter notebooks into notebooks/.
MSG
  exit 1
fi

VERSION="$("$QUARTO" --version)"
if [ "$(printf '%s\n1.5.0\n' "$VERSION" | sort -V | head -n1)" != "1.5.0" ]; then
  echo "Quarto $VERSION is too old: this book needs 1.5 or newer (https://quarto.org/docs/get-started/)." >&2
  exit 1
fi
echo "Rendering with Quarto $VERSION and $PY"
# A relative AEBOOK_DATA_DIR means "from where I ran the command": the chapters' kernels run
# elsewhere (the project root), so hand them the absolute path.
if [ -n "${AEBOOK_DATA_DIR:-}" ]; then
  case "$AEBOOK_DATA_DIR" in /*) ;; *) export AEBOOK_DATA_DIR="$PWD/$AEBOOK_DATA_DIR" ;; esac
fi
# The chapters' kernels get an IPython profile of their own: it keeps the render log free of
# ipykernel's start-up notice about its local TCP transport, and keeps a reader's own IPython
# start-up files out of the book's results.
export IPYTHONDIR="$PWD/.quarto/ipython"
mkdir -p "$IPYTHONDIR/profile_default"
echo 'c.IPKernelApp.log_level = "ERROR"  # written by tools/render.sh' \
  > "$IPYTHONDIR/profile_default/ipython_kernel_config.py"
case "$PY" in /*) ABS_PY="$PY" ;; *) ABS_PY="$PWD/$PY" ;; esac
QUARTO_PYTHON="$ABS_PY" exec "$QUARTO" render "$@"
