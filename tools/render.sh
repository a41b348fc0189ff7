#!/usr/bin/env bash
# Render the book with Quarto, using the project's virtual environment for Python.
# Finds `quarto` on PATH, else in the venv, else installs it with ../shared/quarto/install-quarto.sh
# when that exists (machines that reach only package registries), else tries `pip install quarto-cli`.
set -uo pipefail
VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
# The Quarto versions this book renders with, as quarto-required in _quarto.yml says (">= 1.7.34 < 1.8.0"):
# the post-render step (tools/postrender.py) patches Quarto 1.7's own scripts
QUARTO_MIN="1.7.34"
QUARTO_BELOW="1.8.0"
QUARTO_GET="https://github.com/quarto-dev/quarto-cli/releases/tag/v$QUARTO_MIN, or 'pip install quarto-cli==$QUARTO_MIN' into $VENV"

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
  echo "Quarto is not on PATH; trying 'pip install quarto-cli' ($QUARTO_MIN up to $QUARTO_BELOW) into $VENV ..."
  if "$PY" -m pip install --quiet "quarto-cli>=$QUARTO_MIN,<$QUARTO_BELOW" >"$VENV/quarto-install.log" 2>&1; then
    QUARTO="$(find_quarto)" || QUARTO=""
  fi
fi
if [ -z "${QUARTO:-}" ] || ! "$QUARTO" --version >/dev/null 2>&1; then
  cat >&2 <<MSG

Cannot render the book: Quarto (version $QUARTO_MIN or a later 1.7 release) is not installed,
and 'pip install quarto-cli' did not provide it (details: $VENV/quarto-install.log).

To fix it, install Quarto $QUARTO_MIN from $QUARTO_GET
(on a machine with internet access), then run 'make book' again.

Without Quarto you can still run every chapter: 'make notebooks' writes them as
Jupyter notebooks into notebooks/.
MSG
  exit 1
fi

VERSION="$("$QUARTO" --version)"
lowest() { printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1; }
if [ "$(lowest "$VERSION" "$QUARTO_MIN")" != "$QUARTO_MIN" ] || [ "$(lowest "$VERSION" "$QUARTO_BELOW")" != "$VERSION" ] \
   || [ "$VERSION" = "$QUARTO_BELOW" ]; then
  echo "Quarto $VERSION ($QUARTO) cannot render this book: it needs Quarto >= $QUARTO_MIN and < $QUARTO_BELOW; get $QUARTO_MIN from $QUARTO_GET." >&2
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
# `tools/render.sh preview [...]` (make preview): Quarto's live preview, same environment. Each save
# re-renders that page only, and the pre-render step then rewrites only that page's notebook.
if [ "${1:-}" = preview ]; then
  shift
  QUARTO_PYTHON="$ABS_PY" exec "$QUARTO" preview "$@"
fi
QUARTO_PYTHON="$ABS_PY" exec "$QUARTO" render "$@"
