"""docs/ARCHIVE.md documents the stored schemas the code writes."""

from pathlib import Path

from rp_toolkit.archives import SCHEMAS, schema_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_guide_shows_every_stored_schema_as_the_code_defines_it() -> None:
    guide = (ROOT / "docs" / "ARCHIVE.md").read_text()
    assert schema_table() in guide
    for name, schema in SCHEMAS.items():  # the table is not empty of what matters
        assert f"| `{name}` |" in guide
        assert "`record_id` uint64" in guide
        assert schema.field("record_id").type == "uint64"
