"""Readers of Wannier90 tight-binding files: ``seedname_hr.dat`` and ``seedname_tb.dat``.

``_hr.dat`` (``write_hr = true``): a comment line, ``num_wann``, ``nrpts``, the Wigner-Seitz
degeneracies (15 per line), then ``nrpts * num_wann**2`` lines ``R1 R2 R3 m n Re Im`` with
``<m,0|H|n,R> = (Re + i Im)``; the hopping used is that divided by the degeneracy of R.  The
file has no lattice vectors: pass ``lattice`` (rows, in the length unit you want k in; the
default is the identity).

``_tb.dat`` (``write_tb = true``): a comment line, the three lattice vectors (Å), ``num_wann``,
``nrpts``, degeneracies, then for each R a line ``R1 R2 R3`` followed by ``num_wann**2`` lines
``m n Re Im``, then the position matrix elements (blocks ``R1 R2 R3`` and lines
``m n Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)``).  The Wannier centres (diagonal of the R = 0
position block) become the orbital positions.

Energies are in the file's unit (eV), lengths in the lattice's (Å for ``_tb.dat``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from boltzphlow.bands.hamiltonian import TightBinding

__all__ = ["read_wannier90_hr", "read_wannier90_tb"]


class _Lines:
    """Numbered non-empty lines of a file, with errors that name the line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        self.items: list[tuple[int, str]] = [(i + 1, s) for i, s in enumerate(text)]
        self.pos = 0

    def error(self, lineno: int, line: str, what: str) -> ValueError:
        return ValueError(f"{self.path.name}, line {lineno}: {what}: {line.strip()!r}")

    def next_raw(self) -> tuple[int, str]:
        if self.pos >= len(self.items):
            last = self.items[-1][0] if self.items else 0
            raise ValueError(f"{self.path.name}, line {last + 1}: unexpected end of file")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def next(self) -> tuple[int, str]:
        while True:
            lineno, line = self.next_raw()
            if line.strip():
                return lineno, line

    def numbers(self, count: int | None, kind: type, what: str) -> tuple[int, list]:
        lineno, line = self.next()
        parts = line.split()
        if count is not None and len(parts) != count:
            raise self.error(lineno, line, f"expected {count} values ({what})")
        try:
            return lineno, [kind(p) for p in parts]
        except ValueError:
            raise self.error(lineno, line, f"cannot read {what}") from None

    def ints_until(self, total: int, what: str) -> list[int]:
        out: list[int] = []
        while len(out) < total:
            lineno, values = self.numbers(None, int, what)
            out += values
            if len(out) > total:
                raise self.error(lineno, self.items[self.pos - 1][1], f"too many {what}")
        return out


def _positive(value: int, lineno: int, lines: _Lines, what: str) -> int:
    if value < 1:
        raise lines.error(lineno, lines.items[lineno - 1][1], f"{what} must be positive")
    return value


def _hoppings(
    lines: _Lines, num_wann: int, degeneracy: list[int], records: Iterator[tuple[int, list]]
) -> tuple[np.ndarray, np.ndarray]:
    rs: dict[tuple[int, int, int], int] = {}
    h = np.zeros((len(degeneracy), num_wann, num_wann), dtype=complex)
    for lineno, rvec, m, n, value in records:
        if not (1 <= m <= num_wann and 1 <= n <= num_wann):
            raise lines.error(lineno, lines.items[lineno - 1][1], "orbital index out of range")
        key = tuple(rvec)
        if key not in rs:
            if len(rs) == len(degeneracy):
                raise lines.error(lineno, lines.items[lineno - 1][1], "more R vectors than nrpts")
            rs[key] = len(rs)
        h[rs[key], m - 1, n - 1] = value / degeneracy[rs[key]]
    if len(rs) != len(degeneracy):
        raise ValueError(
            f"{lines.path.name}: found {len(rs)} R vectors, header says {len(degeneracy)}"
        )
    return np.array(list(rs), dtype=np.int64), h


def read_wannier90_hr(
    path: str | Path, lattice: np.ndarray | None = None, positions: np.ndarray | None = None
) -> TightBinding:
    """Read ``seedname_hr.dat`` into a :class:`TightBinding` model.

    Parameters
    ----------
    path
        The file.
    lattice
        Lattice vectors as rows (3 x 3); identity if not given (the file has none).
    positions
        Orbital positions in reduced coordinates (num_wann x 3); zero if not given.

    Raises
    ------
    ValueError
        For a malformed file, naming the line; or non-Hermitian hoppings.
    """
    lines = _Lines(Path(path))
    lines.next_raw()  # comment / date line
    num_wann, nrpts, degeneracy = _read_sizes(lines)

    def records():
        for _ in range(nrpts * num_wann**2):
            lineno, line = lines.next()
            parts = line.split()
            if len(parts) != 7:
                raise lines.error(lineno, line, "expected 'R1 R2 R3 m n Re Im'")
            try:
                ints = [int(p) for p in parts[:5]]
                value = float(parts[5]) + 1j * float(parts[6])
            except ValueError:
                raise lines.error(lineno, line, "cannot read 'R1 R2 R3 m n Re Im'") from None
            yield lineno, ints[:3], ints[3], ints[4], value

    r, h = _hoppings(lines, num_wann, degeneracy, records())
    lat = np.eye(3) if lattice is None else np.asarray(lattice, dtype=float)
    return TightBinding(lat, (r, h), positions, name=Path(path).stem)


def _read_sizes(lines: _Lines) -> tuple[int, int, list[int]]:
    """The ``num_wann``, ``nrpts`` and Wigner–Seitz degeneracy lines shared by both formats."""
    ln, (num_wann,) = lines.numbers(1, int, "num_wann")
    _positive(num_wann, ln, lines, "num_wann")
    ln, (nrpts,) = lines.numbers(1, int, "nrpts")
    _positive(nrpts, ln, lines, "nrpts")
    return num_wann, nrpts, lines.ints_until(nrpts, "Wigner-Seitz degeneracies")


def read_wannier90_tb(path: str | Path) -> TightBinding:
    """Read ``seedname_tb.dat`` (lattice vectors, hoppings and Wannier centres).

    Raises
    ------
    ValueError
        For a malformed file, naming the line; or non-Hermitian hoppings.
    """
    lines = _Lines(Path(path))
    lines.next_raw()
    lattice = np.array([lines.numbers(3, float, "lattice vector")[1] for _ in range(3)])
    num_wann, nrpts, degeneracy = _read_sizes(lines)

    def records():
        for _ in range(nrpts):
            _, rvec = lines.numbers(3, int, "R vector 'R1 R2 R3'")
            for _ in range(num_wann**2):
                lineno, line = lines.next()
                parts = line.split()
                if len(parts) != 4:
                    raise lines.error(lineno, line, "expected 'm n Re Im'")
                try:
                    m, n = int(parts[0]), int(parts[1])
                    value = float(parts[2]) + 1j * float(parts[3])
                except ValueError:
                    raise lines.error(lineno, line, "cannot read 'm n Re Im'") from None
                yield lineno, rvec, m, n, value

    r, h = _hoppings(lines, num_wann, degeneracy, records())
    centres = np.zeros((num_wann, 3))
    for _ in range(nrpts):
        try:
            _, rvec = lines.numbers(3, int, "R vector of the position block")
        except ValueError as exc:
            if "unexpected end of file" in str(exc):
                break  # no position block: orbitals at the origin
            raise
        for _ in range(num_wann**2):
            lineno, line = lines.next()
            parts = line.split()
            if len(parts) != 8:
                raise lines.error(
                    lineno, line, "expected 'm n Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)'"
                )
            try:
                m, n = int(parts[0]), int(parts[1])
                xyz = [float(parts[i]) for i in (2, 4, 6)]
            except ValueError:
                raise lines.error(lineno, line, "cannot read a position matrix element") from None
            if rvec == [0, 0, 0] and m == n:
                if not 1 <= m <= num_wann:
                    raise lines.error(lineno, line, "orbital index out of range")
                centres[m - 1] = xyz
    positions = centres @ np.linalg.inv(lattice)
    return TightBinding(lattice, (r, h), positions, name=Path(path).stem)
