"""Write the faces of an MTFL-style five-point list whose keys are listed in another file, as a new list.

    python scripts/five_point_subset.py --list ../shared/data/mtfl/train_5pt.txt \
        --keys runs/lite-stc/validation_unlabelled.txt --out runs/val665_5pt.txt

Self-training writes the MTFL faces it held out for validation as a key list (``validation_unlabelled.txt``);
this turns them into a list ``python -m pipnet_edge.evaluate --five-point OUT --five-point-all`` can read (image paths
made absolute, so the new list works from anywhere). ``--exclude`` writes the other faces instead (a training pool
without the validation faces).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", required=True, help="MTFL-style list: path x1..x5 y1..y5")
    p.add_argument("--keys", required=True, help="one key per line (folder/file.jpg, as the list writes it)")
    p.add_argument("--out", required=True)
    p.add_argument("--exclude", action="store_true", help="write the faces whose keys are NOT listed")
    args = p.parse_args(argv)
    root = Path(args.list).resolve().parent
    keys = {line.strip() for line in Path(args.keys).read_text().splitlines() if line.strip()}
    out = []
    for line in Path(args.list).read_text().splitlines():
        parts = line.split()
        if parts and (parts[0].replace("\\", "/") in keys) != args.exclude:
            out.append(" ".join([str(root / parts[0].replace("\\", "/"))] + parts[1:]) + "\n")
    Path(args.out).write_text("".join(out))
    print(f"{len(out)} faces written to {args.out} ({'all but' if args.exclude else 'of'} {len(keys)} keys)")
    return 0 if out else 1


if __name__ == "__main__":
    sys.exit(main())
