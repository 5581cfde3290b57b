"""Run the HTS cross-check and write its summary, data/hts-check.json (tests check it is current).

The extract the check reads (tests/data/hts) is test data and does not ship; the summary does, so
`tariffcalc validate --report` can show the result. Run after changing data/ or the extract:

    python scripts/hts_crosscheck.py          # rewrite data/hts-check.json
    python scripts/hts_crosscheck.py --check  # exit 1 if it is out of date
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tariffcalc.htscheck import Extract, check_lists, check_steps, read_known, tally
from tariffcalc.loader import load_dataset

REPO = Path(__file__).resolve().parent.parent
EXTRACT = REPO / "tests" / "data" / "hts"
TARGET = REPO / "data" / "hts-check.json"


def summary() -> str:
    dataset = load_dataset()
    extract = Extract(EXTRACT)
    step_mismatches, stats = check_steps(dataset, extract)
    list_mismatches, files = check_lists(dataset, extract)
    found = tally(step_mismatches + list_mismatches)
    known = read_known(EXTRACT / "known_mismatches.csv")
    unexplained = sorted(set(found) - set(known))
    first, last = extract.revisions[0], extract.revisions[-1]
    data = {
        "extract": {
            "revisions": len(extract.revisions),
            "first": f"{first.id} ({first.published})",
            "last": f"{last.id} ({last.published})",
            "source": "USITC HTS JSON exports kept in github.com/arifshehab/tariff-rate-tracker "
                      "@ 9919812fe16ad61d72318dc7b96d387cc6c226da, data/hts_archives/",
        },
        "steps": {**stats, "mismatches": sum(n for k, n in found.items() if k[1] != "*" and not k[1].startswith("lists/"))},
        "lists": {
            "files_with_footnoted_headings": sum(1 for f in files.values() if f["headings"]),
            "rows_checked": sum(f["checked_rows"] for f in files.values()),
            "mismatches": sum(n for k, n in found.items() if k[1] == "*" or k[1].startswith("lists/")),
        },
        "unexplained": len(unexplained),
        "known": [{"kind": k[0], "where": k[1], "start": k[2], "heading": k[3], "count": found.get(k, 0),
                   "reason": known[k][1]} for k in sorted(known)],
        "files": {name: {key: value for key, value in entry.items() if value or key == "headings"}
                  for name, entry in sorted(files.items())},
    }
    data = {"written_by": "scripts/hts_crosscheck.py from tests/data/hts; do not edit by hand", **data}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = summary()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if TARGET.exists() and TARGET.read_text(encoding="utf-8") == text else 1)
    TARGET.write_text(text, encoding="utf-8")
    print(TARGET)
