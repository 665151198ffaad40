from pathlib import Path

import pandas as pd
import pytest

from engine.errors import InputError
from engine.jobs._io import read_table, staged_directory


def test_csv_text_columns_are_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("ssn,amount\n001234567,1.5\n")
    frame = read_table(path, text_columns=["ssn"])
    assert frame["ssn"].iloc[0] == "001234567"
    assert frame["amount"].iloc[0] == 1.5


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(path)
    assert read_table(path, text_columns=[])["x"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"a,b\n", "no rows"), (b"a,b\n1,2,3,4\n\xff\xfe\n", "cannot be parsed")],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_table(path, text_columns=[])


def test_parse_error_message_holds_no_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('ssn,b\n"123-45-6789,2\n4,5,6,7\n')
    with pytest.raises(InputError) as info:
        read_table(path, text_columns=["ssn"])
    assert "123-45-6789" not in str(info.value)


def test_missing_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_table(tmp_path, text_columns=[])
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "none.csv", text_columns=[])
    odd = tmp_path / "a.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported format"):
        read_table(odd, text_columns=[])


def test_staged_directory_moves_into_place_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with staged_directory(final) as staging:
        (staging / "a.txt").write_text("1")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "1"

    def failing_run() -> None:
        with staged_directory(final) as staging:
            (staging / "a.txt").write_text("2")
            raise RuntimeError("stage failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert (final / "a.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
