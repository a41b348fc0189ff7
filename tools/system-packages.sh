#!/usr/bin/env bash
# System packages the tests use besides Python: a Chromium for the browser checks, and
# a colour-emoji font (the emoji chapter's offline source).
# Installs them with apt-get (only those packages, no recommended extras) where that is
# possible (root, or password-less sudo), saying first what it will install; anywhere else it
# says what is missing, and the browser tests report themselves skipped.
# AEBOOK_SYSTEM_PACKAGES=0 turns the installing off (it then only reports).
set -u
have_browser() { command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
  || command -v google-chrome >/dev/null || command -v google-chrome-stable >/dev/null; }
have_font() { [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || [ -e /usr/share/fonts/noto/NotoColorEmoji.ttf ] \
  || [ -e "/System/Library/Fonts/Apple Color Emoji.ttc" ]; }
case "${AEBOOK_SYSTEM_PACKAGES:-1}" in
  0|false|no|off) INSTALL=no ;;
  1|true|yes|on) INSTALL=yes ;;
  *) echo "[system] AEBOOK_SYSTEM_PACKAGES=${AEBOOK_SYSTEM_PACKAGES} is not one of 1/0/true/false/yes/no/on/off" >&2; exit 2 ;;
esac
have_browser && have_font && exit 0
if [ "$INSTALL" = no ]; then
  echo "[system] AEBOOK_SYSTEM_PACKAGES=0: installing nothing"
elif command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    missing=""
    have_browser || missing="chromium"
    have_font || missing="$missing fonts-noto-color-emoji"
    echo "[system] installing with apt-get --no-install-recommends:$missing (browser checks; the offline" \
      "emoji source). AEBOOK_SYSTEM_PACKAGES=0 turns this off."
    $SUDO apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 \
      || echo "[system] apt-get could not install:$missing"
  fi
fi
have_browser || echo "[system] no Chromium: the browser checks will be skipped" \
  "(install it: apt-get install chromium, or any Chrome/Chromium on PATH)"
have_font || echo "[system] no colour-emoji font: the font tests will be skipped and the emoji" \
  "chapter needs the network (install it: apt-get install fonts-noto-color-emoji)"
exit 0
