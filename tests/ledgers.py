"""Ledger files written by tests: the header of the shortest ledger and a writer."""

HEADER = "entry_id,entry_date,hts,origin,customs_value,export_date,quantity\n"


def write(tmp_path, text, name="ledger.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path

