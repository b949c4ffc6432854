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

``_wsvec.dat`` (written with ``use_ws_distance = true``, the default of Wannier90 3): a comment
line, then for every hopping a block ``R1 R2 R3 m n``, the number ``M`` of its minimal-distance
replicas, and ``M`` lines ``T1 T2 T3``.  Wannier90 then interpolates with the hopping
``h_mn(R)`` (already divided by the Wigner–Seitz degeneracy of R) spread equally over
``R + T_i``, i = 1..M (the MDRS method: G. Pizzi et al., "Wannier90 as a community code",
J. Phys.: Condens. Matter 32, 165902 (2020), §4.2), so that each hopping sits at the image of
the pair (m, n) of least distance.  Give the file as ``wsvec=`` to either reader to get the
bands Wannier90 itself interpolates; without it the hoppings stay at R (the plain Wigner–Seitz
interpolation, which differs away from the ab-initio k-points).

The position block of ``_tb.dat`` is kept whole: ``TightBinding.position_matrix`` holds
``<m,0|r|n,R>`` (Cartesian, the file's length unit) on the model's R vectors, and the Wannier
centres (its diagonal at R = 0) are the orbital positions.

What is checked, before anything large is allocated
---------------------------------------------------
Every problem is an :class:`~boltzphlow.errors.InputError` (a ``ValueError``) of one line that
names the file and the line, and never quotes the file's text (only numbers read from it,
shortened):

* the path is a regular file (not a device, FIFO or folder) and fits in memory;
* ``num_wann`` and ``nrpts`` are positive, and the file holds at least the lines they announce
  (``num_wann = 100000`` in a five-line file is refused at once, not after asking for 149 GiB);
* the degeneracies are integers >= 1; every number is finite (``nan``, ``inf`` refused);
* orbital indices lie in ``1 .. num_wann``; every R block lists each (m, n) exactly once;
* no lines are left over after the blocks the header announces;
* the hoppings are Hermitian, ``h(-R) = h(R)^†`` (:class:`~boltzphlow.bands.TightBinding`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from boltzphlow.bands.hamiltonian import TightBinding
from boltzphlow.errors import InputError, shorten
from boltzphlow.resources import check_memory

__all__ = ["read_wannier90_hr", "read_wannier90_tb", "read_wannier90_wsvec"]

#: Bytes of Python objects per byte of file while the lines are held (a generous estimate).
READ_OVERHEAD = 12


class _Lines:
    """Numbered non-blank lines of a file (after its comment line), errors naming the line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = shorten(str(path), 80)
        try:
            info = os.stat(path)
        except OSError as exc:
            raise InputError(f"{self.label}: cannot read ({exc.strerror or 'error'})") from None
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{self.label}: not a regular file")
        check_memory(READ_OVERHEAD * info.st_size, f"reading {self.label} "
                     f"({info.st_size} bytes)", ["wannier90.file"])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{self.label}: cannot read ({exc.strerror or 'error'})") from None
        text = raw.decode("utf-8", errors="replace").splitlines()
        # line 1 is a free-form comment: it is skipped whatever it holds, and never quoted
        self.items: list[tuple[int, str]] = [(i + 1, s) for i, s in enumerate(text)
                                             if i > 0 and s.strip()]
        self.n_lines = len(text)
        self.pos = 0

    def error(self, lineno: int, what: str) -> InputError:
        return InputError(f"{self.label}, line {lineno}: {what}")

    @property
    def left(self) -> int:
        """Non-blank lines not yet read."""
        return len(self.items) - self.pos

    def at_end(self) -> bool:
        return self.pos >= len(self.items)

    def next(self, what: str) -> tuple[int, str]:
        if self.at_end():
            raise self.error(self.n_lines + 1, f"unexpected end of file (expected {what}; "
                                               "the file is truncated or its counts are wrong)")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def numbers(self, count: int | None, kind: type, what: str) -> tuple[int, list]:
        lineno, line = self.next(what)
        parts = line.split()
        if count is not None and len(parts) != count:
            raise self.error(lineno, f"expected {count} values ({what}), found {len(parts)}")
        try:
            values = [kind(p) for p in parts]
        except ValueError:
            raise self.error(lineno, f"cannot read {what}") from None
        if kind is float and not all(np.isfinite(values)):
            raise self.error(lineno, f"{what}: not a finite number")
        return lineno, values

    def count(self, what: str) -> tuple[int, int]:
        lineno, (value,) = self.numbers(1, int, what)
        if value < 1:
            raise self.error(lineno, f"{what} must be >= 1, got {shorten(value)}")
        return lineno, value

    def degeneracies(self, total: int) -> list[int]:
        out: list[int] = []
        what = "Wigner-Seitz degeneracies"
        while len(out) < total:
            lineno, values = self.numbers(None, int, what)
            out += values
            if len(out) > total:
                raise self.error(lineno, f"more {what} than nrpts = {total}")
            bad = [d for d in values if d < 1]
            if bad:
                raise self.error(lineno, f"Wigner-Seitz degeneracy must be >= 1, got "
                                         f"{shorten(bad[0])}")
        return out

    def records(self, count: int, n_int: int, n_float: int, what: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count`` lines of ``n_int`` integers then ``n_float`` finite floats.

        Returns the integers ``(count, n_int)``, the floats ``(count, n_float)`` and the line
        numbers ``(count,)``.
        """
        if self.left < count:
            self.pos = len(self.items)
            self.next(what)  # raises "unexpected end of file"
        ints = np.empty((count, n_int), dtype=np.int64)
        floats = np.empty((count, n_float))
        linenos = np.empty(count, dtype=np.int64)
        width = n_int + n_float
        for row in range(count):
            lineno, line = self.items[self.pos]
            self.pos += 1
            parts = line.split()
            if len(parts) != width:
                raise self.error(lineno, f"expected {width} values ({what}), found {len(parts)}")
            try:
                ints[row] = [int(p) for p in parts[:n_int]]
                floats[row] = [float(p) for p in parts[n_int:]]
            except (ValueError, OverflowError):
                raise self.error(lineno, f"cannot read {what}") from None
            linenos[row] = lineno
        bad = ~np.isfinite(floats).all(axis=1)
        if bad.any():
            raise self.error(int(linenos[np.argmax(bad)]), f"{what}: not a finite number")
        return ints, floats, linenos

    def check_end(self, what: str) -> None:
        if not self.at_end():
            raise self.error(self.items[self.pos][0], f"unexpected content after {what} "
                                                      "(the header's counts are wrong)")


def _header(lines: _Lines, lines_per_r: int) -> tuple[int, int, list[int]]:
    """``num_wann``, ``nrpts`` and the degeneracies, with the counts checked against the file.

    Each R vector takes ``num_wann**2`` hopping lines plus ``lines_per_r`` (its own line in a
    ``_tb.dat`` file).
    """
    _, num_wann = lines.count("num_wann")
    ln_rpts, nrpts = lines.count("nrpts")
    # the counts must fit in the file before anything is allocated: each R needs its lines
    # of hoppings, and the degeneracies at least one more line
    need = nrpts * (lines_per_r + num_wann**2) + 1
    if need > lines.left:
        raise lines.error(ln_rpts, f"unexpected end of file: num_wann = {shorten(num_wann)} "
                                   f"and nrpts = {shorten(nrpts)} need at least {shorten(need)} "
                                   f"more lines, the file has {lines.left} (truncated, or wrong "
                                   "counts)")
    degeneracy = lines.degeneracies(nrpts)
    check_memory(3 * 16 * nrpts * num_wann**2, f"the {nrpts} x {num_wann} x {num_wann} hopping "
                 f"matrices of {lines.label}", ["wannier90.file"])
    return num_wann, nrpts, degeneracy


def _hoppings(lines: _Lines, num_wann: int, degeneracy: list[int], rvec: np.ndarray,
              mn: np.ndarray, values: np.ndarray, linenos: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Hopping matrices ``h(R) = value / degeneracy(R)`` from the records, checked."""
    bad = ((mn < 1) | (mn > num_wann)).any(axis=1)
    if bad.any():
        raise lines.error(int(linenos[np.argmax(bad)]),
                          f"orbital index out of range 1..{num_wann}")
    keys, first, block = np.unique(rvec, axis=0, return_index=True, return_inverse=True)
    block = block.reshape(-1)
    nrpts = len(degeneracy)
    if len(keys) > nrpts:
        extra = np.sort(first)[nrpts]
        raise lines.error(int(linenos[extra]), f"more R vectors than nrpts = {nrpts}")
    # R vectors in order of first appearance: the degeneracies are listed in that order
    order = np.argsort(first)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    index = rank[block]
    flat = (index * num_wann + (mn[:, 0] - 1)) * num_wann + (mn[:, 1] - 1)
    ordered = np.sort(flat)
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():  # with nrpts * num_wann**2 records, also catches too few R vectors
        rows = np.nonzero(flat == ordered[np.argmax(repeated)])[0]
        raise lines.error(int(linenos[rows[1]]), "the same (R, m, n) is given twice")
    h = np.zeros((nrpts, num_wann, num_wann), dtype=complex)
    deg = np.asarray(degeneracy, dtype=float)[index]
    h.reshape(-1)[flat] = (values[:, 0] + 1j * values[:, 1]) / deg
    return keys[order], h


def _model(lines: _Lines, lattice: np.ndarray, r: np.ndarray, h: np.ndarray,
           positions: np.ndarray | None, name: str, symmetry: Sequence[np.ndarray] = (),
           position_matrix: np.ndarray | None = None, position_operator: str = "centres"
           ) -> TightBinding:
    try:
        return TightBinding(lattice, (r, h), positions, name=name, symmetry=symmetry,
                            position_matrix=position_matrix,
                            position_operator=position_operator)
    except ValueError as exc:
        raise InputError(f"{lines.label}: {exc}") from None


def read_wannier90_wsvec(path: str | Path, num_wann: int
                         ) -> dict[tuple[int, int, int, int, int], np.ndarray]:
    """Read ``seedname_wsvec.dat``: ``{(R1, R2, R3, m, n): T}`` with ``T`` the ``(M, 3)``
    integer replica shifts of the hopping ``<m,0|H|n,R>`` (m, n from 0; module docstring).

    Raises
    ------
    InputError
        For a file that is not a regular file or is malformed (naming the line): a block
        header that is not five integers, orbital indices outside ``1..num_wann``, a replica
        count below 1, a shift that is not three integers, or a block given twice.
    """
    lines = _Lines(Path(path))
    out: dict[tuple[int, int, int, int, int], np.ndarray] = {}
    while not lines.at_end():
        lineno, (r1, r2, r3, m, n) = lines.numbers(5, int, "'R1 R2 R3 m n'")
        if not (1 <= m <= num_wann and 1 <= n <= num_wann):
            raise lines.error(lineno, f"orbital index out of range 1..{num_wann}")
        key = (r1, r2, r3, m - 1, n - 1)
        if key in out:
            raise lines.error(lineno, "the same (R, m, n) is given twice")
        _, count = lines.count("the number of replicas")
        out[key] = np.array([lines.numbers(3, int, "replica shift 'T1 T2 T3'")[1]
                             for _ in range(count)], dtype=np.int64)
    return out


def _minimal_replicas(r: np.ndarray, h: np.ndarray, x: np.ndarray | None,
                      table: dict[tuple[int, int, int, int, int], np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Spread each ``h_mn(R)`` (and position element ``x_mn(R)``) over ``R + T_i`` with
    weight ``1/M`` (Wannier90's MDRS interpolation); pairs the table lacks stay at R."""
    n_r, n = h.shape[:2]
    rows, mm, nn, shifts, weights = [], [], [], [], []
    for i, rv in enumerate(r):
        for m in range(n):
            for k in range(n):
                t = table.get((int(rv[0]), int(rv[1]), int(rv[2]), m, k))
                t = np.zeros((1, 3), dtype=np.int64) if t is None else t
                rows.append(np.full(len(t), i))
                mm.append(np.full(len(t), m))
                nn.append(np.full(len(t), k))
                shifts.append(rv + t)
                weights.append(np.full(len(t), 1.0 / len(t)))
    row, m_idx, n_idx = (np.concatenate(a) for a in (rows, mm, nn))
    targets, where = np.unique(np.concatenate(shifts), axis=0, return_inverse=True)
    w = np.concatenate(weights)
    new_h = np.zeros((len(targets), n, n), dtype=complex)
    np.add.at(new_h, (where.reshape(-1), m_idx, n_idx), w * h[row, m_idx, n_idx])
    new_x = None
    if x is not None:
        new_x = np.zeros((len(targets), n, n, 3), dtype=complex)
        np.add.at(new_x, (where.reshape(-1), m_idx, n_idx), w[:, None] * x[row, m_idx, n_idx])
    return targets, new_h, new_x


def read_wannier90_hr(
    path: str | Path, lattice: np.ndarray | None = None, positions: np.ndarray | None = None,
    *, wsvec: str | Path | None = None, symmetry: Sequence[np.ndarray] = (),
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
    wsvec
        ``seedname_wsvec.dat``: move each hopping to its minimal-distance replicas (MDRS,
        module docstring), as Wannier90 interpolates with ``use_ws_distance``.
    symmetry
        Cartesian point operations of the crystal (:class:`TightBinding` ``symmetry``), for
        the k-mesh reduction of the observables.

    Raises
    ------
    InputError
        For a file that is not a regular file or is malformed (naming the line; see the
        module docstring), or non-Hermitian hoppings.
    ResourceError
        If the file or its hopping matrices would not fit in memory.
    """
    lines = _Lines(Path(path))
    num_wann, nrpts, degeneracy = _header(lines, 0)
    ints, values, linenos = lines.records(nrpts * num_wann**2, 5, 2, "'R1 R2 R3 m n Re Im'")
    lines.check_end("the last hopping")
    r, h = _hoppings(lines, num_wann, degeneracy, ints[:, :3], ints[:, 3:], values, linenos)
    if wsvec is not None:
        r, h, _ = _minimal_replicas(r, h, None, read_wannier90_wsvec(wsvec, num_wann))
    lat = np.eye(3) if lattice is None else np.asarray(lattice, dtype=float)
    return _model(lines, lat, r, h, positions, Path(path).stem, symmetry)


def read_wannier90_tb(path: str | Path, *, wsvec: str | Path | None = None,
                      symmetry: Sequence[np.ndarray] = (),
                      position_operator: str = "centres") -> TightBinding:
    """Read ``seedname_tb.dat`` (lattice vectors, hoppings and the position matrix elements).

    ``wsvec`` and ``symmetry`` as for :func:`read_wannier90_hr`.  The Wannier centres become
    the orbital positions and the whole position block ``<m,0|r|n,R>`` the model's
    ``position_matrix`` (on the same R vectors as the hoppings; MDRS moves both).  With
    ``position_operator = "full"`` the Berry curvature uses all of it (Wang, Yates, Souza and
    Vanderbilt's Wannier interpolation); ``"centres"`` keeps the tight-binding approximation.

    Raises
    ------
    InputError
        For a file that is not a regular file or is malformed (naming the line; see the
        module docstring), a singular lattice, or non-Hermitian hoppings.
    ResourceError
        If the file or its hopping matrices would not fit in memory.
    """
    lines = _Lines(Path(path))
    rows = [lines.numbers(3, float, "lattice vector") for _ in range(3)]
    lattice = np.array([row for _, row in rows])
    if abs(np.linalg.det(lattice)) < 1e-12 * max(1.0, float(np.abs(lattice).max())) ** 3:
        raise lines.error(rows[0][0], "the lattice vectors are linearly dependent")
    num_wann, nrpts, degeneracy = _header(lines, 1)
    rvecs, mns, vals, lns = [], [], [], []
    for _ in range(nrpts):
        _, rvec = lines.numbers(3, int, "R vector 'R1 R2 R3'")
        ints, values, linenos = lines.records(num_wann**2, 2, 2, "'m n Re Im'")
        rvecs.append(np.broadcast_to(np.asarray(rvec), (len(ints), 3)))
        mns.append(ints)
        vals.append(values)
        lns.append(linenos)
    r, h = _hoppings(lines, num_wann, degeneracy, np.concatenate(rvecs), np.concatenate(mns),
                     np.concatenate(vals), np.concatenate(lns))
    position = None
    if not lines.at_end():  # the position block (optional)
        position = np.zeros((len(r), num_wann, num_wann, 3), dtype=complex)
        block = {tuple(rv): i for i, rv in enumerate(r.tolist())}
        for _ in range(nrpts):
            lineno, rvec = lines.numbers(3, int, "R vector of the position block")
            if tuple(rvec) not in block:
                raise lines.error(lineno, "an R vector the hoppings do not have")
            ints, xyz, linenos = lines.records(num_wann**2, 2, 6,
                                               "'m n Re(x) Im(x) Re(y) Im(y) Re(z) Im(z)'")
            bad = ((ints < 1) | (ints > num_wann)).any(axis=1)
            if bad.any():
                raise lines.error(int(linenos[np.argmax(bad)]),
                                  f"orbital index out of range 1..{num_wann}")
            # the file lists <m,0|r|n,R> times the degeneracy of R, like the hoppings
            deg = degeneracy[block[tuple(rvec)]]
            position[block[tuple(rvec)], ints[:, 0] - 1, ints[:, 1] - 1] = (
                xyz[:, 0::2] + 1j * xyz[:, 1::2]) / deg
        lines.check_end("the position block")
    if wsvec is not None:
        r, h, position = _minimal_replicas(r, h, position,
                                           read_wannier90_wsvec(wsvec, num_wann))
    centres = np.zeros((num_wann, 3))
    if position is not None:
        origin = np.nonzero(~r.any(axis=1))[0]
        if origin.size:
            centres = np.diagonal(position[origin[0]], axis1=0, axis2=1).T.real
    positions = centres @ np.linalg.inv(lattice)
    if position_operator == "full" and position is None:
        raise InputError(f"{lines.label}: position_operator 'full' needs the position block, "
                         "which this file lacks")
    return _model(lines, lattice, r, h, positions, Path(path).stem, symmetry, position,
                  position_operator)
