#!/usr/bin/env python3
"""Write src/aebook/emoji_faces.tsv: the face emoji of Unicode's "Smileys & Emotion" group.

Reads emoji-test.txt (Debian: apt-get install unicode-data, which puts it in
/usr/share/unicode/emoji/) and keeps fully qualified single-character emoji (a trailing
variation selector allowed) of the subgroups face-smiling ... face-negative and cat-face:
the expressive, people-like faces. face-costume (ghost, alien, robot, pile of poo, ...)
is left out, and so are animals, moons and clocks whose names merely contain "face".

    python tools/emoji_faces.py [path/to/emoji-test.txt]
"""

import sys
import unicodedata
from pathlib import Path

from aebook.files import SaveError, write_atomic

SOURCE = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode/emoji/emoji-test.txt")
OUT = Path(__file__).resolve().parents[1] / "src" / "aebook" / "emoji_faces.tsv"
KEEP = {"cat-face"} | {f"face-{s}" for s in ("smiling", "affection", "tongue", "hand", "neutral-skeptical",
                                              "sleepy", "unwell", "hat", "glasses", "concerned", "negative")}

group = subgroup = version = None
rows = []
for line in SOURCE.read_text(encoding="utf-8").splitlines():
    if line.startswith("# group:"):
        group = line.split(":", 1)[1].strip()
    elif line.startswith("# subgroup:"):
        subgroup = line.split(":", 1)[1].strip()
    elif line.startswith("# Version:"):
        version = line.split(":", 1)[1].strip()
    elif line and not line.startswith("#") and group == "Smileys & Emotion" and subgroup in KEEP:
        points, rest = line.split(";", 1)
        status, comment = rest.split("#", 1)
        cps = [int(p, 16) for p in points.split()]
        if status.strip() != "fully-qualified" or [c for c in cps if c != 0xFE0F][1:]:
            continue  # skip unqualified duplicates and sequences (ZWJ, skin tones)
        cldr = comment.split(None, 2)[2].strip()  # " 😀 E1.0 grinning face" -> "grinning face"
        rows.append((" ".join(f"{c:04X}" for c in cps), subgroup, cldr, unicodedata.name(chr(cps[0]), "").lower()))

header = (f"# Face emoji of Unicode's 'Smileys & Emotion' group (emoji-test.txt, version {version}),\n"
          f"# subgroups: {', '.join(sorted(KEEP))}. Written by tools/emoji_faces.py.\n"
          "# Unicode data: copyright Unicode, Inc., Unicode License v3 (https://www.unicode.org/license.txt).\n"
          "codepoints\tsubgroup\tcldr_name\tunicode_name\n")
try:  # atomic: never a cut table in the package; a failure is one line, and the old table stays
    write_atomic(OUT, header + "".join("\t".join(r) + "\n" for r in rows))
except SaveError as exc:
    sys.exit(str(exc))
print(f"wrote {len(rows)} faces to {OUT}")
