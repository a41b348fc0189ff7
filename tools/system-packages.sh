#!/usr/bin/env bash
# System packages the tests use besides Python: a Chromium for the browser checks.
# Installs it with apt-get where that is possible (root, or password-less sudo);
# anywhere else it says what is missing, and the browser tests report themselves skipped.
set -u
have_browser() { command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
  || command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null; }
have_browser && exit 0
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "[system] installing chromium with apt-get (browser checks of the widgets and pages)"
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
      || echo "[system] apt-get could not install chromium"
  fi
fi
have_browser || echo "[system] no Chromium: the browser checks will be skipped" \
  "(install it: apt-get install chromium, or any Chrome/Chromium on PATH)"
exit 0
