"""Checks every loader shares, so a broken layout reads the same whichever database it is."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import DataError
from deepfeat_iqa.datasets._dataset import IMAGE_SUFFIXES

#: How many offending names or rows an error message shows before "...".
SHOWN = 3


class UnlistedImagesWarning(UserWarning):
    """Images sit in a database folder but no label file row names them; they are left out."""


@dataclass(frozen=True)
class Source:
    """A label file as messages name it: the database, the file, and what its rows are called.

    Attributes
    ----------
    db:
        Canonical database name (``"koniq10k"``); every message starts with it.
    path:
        The label file read.
    unit:
        ``"row"`` for spreadsheets and CSV files (1-based, header counted, as a spreadsheet shows it),
        ``"line"`` for text files, ``"entry"`` for MATLAB arrays (1-based, as MATLAB indexes).
    """

    db: str
    path: Path
    unit: str = "row"

    @property
    def name(self) -> str:
        """The file name, which is what users recognise from the publisher's archive."""
        return self.path.name

    def fail(self, message: str) -> DataError:
        """A DataError prefixed with the database name."""
        return DataError(f"`{self.db}`: {message}")


def check_root(db: str, root: str | Path, holds: str) -> Path:
    """Resolve ``root`` and fail early, naming what the folder should hold, when it does not exist."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(
            f"`{db}`: root {str(path)!r} does not exist or is not a folder. "
            f"Pass the folder the database was unpacked into (it holds {holds})."
        )
    return path


def find_file(db: str, root: Path, candidates: Sequence[str], where: str) -> Path:
    """The first of ``candidates`` (paths relative to ``root``) that exists, or an error naming them.

    ``where`` tells the user how to get the file (the publisher's page or archive it ships in).
    """
    for candidate in candidates:
        path = root / candidate
        if path.is_file():
            return path
    expected = " or ".join(repr(c) for c in candidates)
    raise DataError(f"`{db}`: label file {expected} not found in {str(root)!r}. {where}")


#: Delimiters a CSV label table may use, in the order that wins a tie: spreadsheets in locales whose decimal
#: mark is a comma (most of Europe) export ``;``-separated files with decimal commas.
DELIMITERS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r'^\s*"?[-+]?\d+,\d+"?\s*$')


def csv_dialect(path: Path, sample_bytes: int = 65536) -> dict[str, str]:
    """``sep`` (and ``decimal=","``) for a CSV file, read from its header line and first rows.

    The delimiter is the candidate of :data:`DELIMITERS` that the header line holds most often (``,`` when
    none); with any other delimiter than ``,``, cells such as ``3,5`` mark decimal commas. ``image;mos`` /
    ``a.jpg;3,5`` therefore reads as columns ``image``, ``mos`` with the score 3.5.
    """
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            lines = handle.read(sample_bytes).splitlines()
    except OSError:
        return {}
    lines = [line for line in lines if line.strip()]
    if not lines:
        return {}
    counts = {d: lines[0].count(d) for d in DELIMITERS}
    sep = max(DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    options = {"sep": sep}
    if sep != "," and any(_DECIMAL_COMMA.match(cell) for line in lines[1:] for cell in line.split(sep)):
        options["decimal"] = ","
    return options


def read_table(path: Path, **options: object) -> pd.DataFrame:
    """Read a CSV/TSV table or a spreadsheet, chosen by suffix.

    A ``.csv`` file's delimiter and decimal mark are detected (:func:`csv_dialect`) unless ``sep=`` is given.

    Only empty cells count as missing: text such as ``n/a`` stays text, so an error can quote the
    cell as the user sees it instead of calling it empty.
    """
    options = {"keep_default_na": False, "na_values": [""], **options}
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pd.read_excel(path, **options)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t", **options)
        if "sep" not in options and "delimiter" not in options:
            options = {**csv_dialect(path), **options}
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"Label file {str(path)!r} is empty (no header, no rows); write the header and one row per image.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"Label file {str(path)!r} cannot be parsed as a table ({error}); check its delimiter and encoding (UTF-8).") from None


def require_columns(src: Source, frame: pd.DataFrame, columns: Iterable[str], hint: str = "") -> None:
    """Fail with the columns the file does have (and the closest one) when one is missing."""
    have = [str(c) for c in frame.columns]
    for column in columns:
        if column not in have:
            close = difflib.get_close_matches(column, have, n=1, cutoff=0.5)
            maybe = f" Did you mean {close[0]!r}?" if close else ""
            raise src.fail(f"{src.name} has no column {column!r} (columns: {', '.join(have)}).{maybe} {hint}".rstrip())


def parse_scores(src: Source, values: Sequence[object] | pd.Series, rows: Sequence[int], column: str) -> np.ndarray:
    """Scores as float64, or an error naming every unparsable or empty cell by its row."""
    raw = pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(raw, errors="coerce").astype(np.float64).to_numpy()
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        shown = ", ".join(f"{src.unit} {rows[i]}: {_cell(raw.iloc[i])}" for i in bad[:SHOWN])
        more = " ..." if bad.size > SHOWN else ""
        raise src.fail(
            f"{_count(bad.size, src.unit)} of {src.name} {_have(bad.size)} a missing or non-numeric {column!r} "
            f"({shown}{more}). Fix those cells or delete the rows."
        )
    return numbers


def check_duplicates(src: Source, ids: Sequence[str], rows: Sequence[int]) -> None:
    """Fail when one image is listed twice, naming the rows, before Dataset sees the ids."""
    index = pd.Index(list(ids))
    repeated = index[index.duplicated()].unique()
    if len(repeated):
        first = repeated[0]
        where = ", ".join(str(rows[i]) for i in np.flatnonzero(index == first))
        raise src.fail(
            f"{src.name} lists {len(repeated)} image{'s' if len(repeated) > 1 else ''} more than once "
            f"(first: {first} at {src.unit}s {where}). Keep one {src.unit} per image."
        )


def locate_images(
    src: Source, folder: Path, names: Sequence[str], rows: Sequence[int], ignore_case: bool = False
) -> list[Path]:
    """Paths of the listed images under ``folder``; all missing ones are reported in one error.

    ``ignore_case`` matches names whose case differs from the file on disk (TID's label files
    write ``i01_01_1.bmp`` where the archive holds ``I01_01_1.bmp``).
    """
    on_disk: dict[str, Path] = {}
    if ignore_case:
        for path in folder.rglob("*") if folder.is_dir() else ():
            on_disk.setdefault(path.relative_to(folder).as_posix().lower(), path)
    paths: list[Path] = []
    missing: list[int] = []
    for i, name in enumerate(names):
        path = folder / name
        if not path.is_file() and ignore_case:
            path = on_disk.get(Path(name).as_posix().lower(), path)
        if not path.is_file():
            missing.append(i)
        paths.append(path)
    if missing:
        shown = ", ".join(f"{names[i]} ({src.unit} {rows[i]})" for i in missing[:SHOWN])
        more = " ..." if len(missing) > SHOWN else ""
        raise src.fail(
            f"{_count(len(missing), src.unit)} of {src.name} name images missing under {_show(folder)} "
            f"(first: {shown}{more}). Unpack the full image archive there, or delete those rows."
        )
    return paths


def warn_unlisted(src: Source, folder: Path, known: Iterable[Path], recursive: bool = False) -> int:
    """Warn (not fail) about images in ``folder`` that no label row names; returns how many there are.

    ``known`` holds every path the loader accounts for, used or deliberately left out (LIVE's
    originals, KADID's references), so only true strays are reported.
    """
    seen = {Path(p).resolve() for p in known}
    pattern = "**/*" if recursive else "*"
    strays = sorted(
        p for p in folder.glob(pattern)
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() not in seen
    )
    if strays:
        shown = ", ".join(p.relative_to(folder).as_posix() for p in strays[:SHOWN])
        more = " ..." if len(strays) > SHOWN else ""
        warnings.warn(
            f"`{src.db}`: {len(strays)} image{'s' if len(strays) > 1 else ''} under {_show(folder)} "
            f"{'are' if len(strays) > 1 else 'is'} not listed in {src.name} and will be left out "
            f"(first: {shown}{more}).",
            UnlistedImagesWarning,
            stacklevel=3,
        )
    return len(strays)


def mat_variable(src: Source, contents: dict, key: str) -> np.ndarray:
    """One variable of a loaded ``.mat`` file, or an error listing the variables it does hold."""
    if key not in contents:
        have = sorted(k for k in contents if not k.startswith("__"))
        raise src.fail(f"{src.name} holds no variable {key!r} (it has: {', '.join(have) or 'none'}).")
    return contents[key]


def mat_strings(array: np.ndarray) -> list[str]:
    """Flatten a MATLAB cell array of strings, as ``scipy.io.loadmat`` nests it, into a list."""
    out: list[str] = []
    for item in np.asarray(array, dtype=object).ravel():
        while isinstance(item, np.ndarray):
            item = item.ravel()[0] if item.size else ""
        out.append(str(item).strip())
    return out


def plural(n: int, word: str) -> str:
    """``"1 row"``, ``"3 rows"``: counts in messages read as sentences."""
    return _count(n, word)


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}{'s' if n != 1 else ''}"


def _have(n: int) -> str:
    return "has" if n == 1 else "have"


def _cell(value: object) -> str:
    return "empty" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)


def _show(folder: Path) -> str:
    return f"{folder.name}/"
