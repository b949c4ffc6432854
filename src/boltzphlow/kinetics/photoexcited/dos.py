"""Bands of the photoexcited-metal model: density of states D(ε), velocity v²(ε), transport.

G. Chiriacò, A. J. Millis and I. L. Aleiner, *Negative absolute conductivity in photoexcited
metals*: main text Eqs. 7, 9 and footnote 19; supplement §I (p-band model) and §VII (1D band,
Eqs. 54–55).

Conventions: energies in units of the bandwidth W; the band lies in ``[lo, hi]`` (the
built-in ones in ``[-1/2, 1/2]``); ``D`` is normalised to one state, ``∫ D dε = 1``, so
``D_0 = (1/W) ∫ D dε = 1``.  The model never evaluates ``D`` at points: it uses *cell
averages* ``D_i = (1/h) ∫_cell D dε`` (:meth:`Band.cell_average`), exact in the number of
states and finite at integrable band-edge singularities (this is how the 1D band of
Eq. 54 is regularised).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from boltzphlow.errors import InputError, shorten
from boltzphlow.kinetics.photoexcited.parameters import PBandParameters as _PB
from boltzphlow.resources import format_bytes

#: Transport-time models (footnote 19 of the paper): σ̃(ε) ∝ D v² τ_tr with
#: ``"constant-v2tau"`` (v² τ_tr constant, σ̃ ∝ D; main text Fig. 2),
#: ``"constant-tau"`` (σ̃ ∝ D v²; supplement Fig. 6a), ``"impurity"`` (τ_tr ∝ 1/D, σ̃ ∝ v²;
#: supplement Fig. 6b),
#: ``"constant-vtau"`` (v τ_tr constant, hard spheres: σ̃ ∝ D v).
TransportModel = Literal["constant-v2tau", "constant-tau", "impurity", "constant-vtau"]
TRANSPORT_MODELS: tuple[str, ...] = ("constant-v2tau", "constant-tau", "impurity",
                                     "constant-vtau")

#: Gauss–Legendre nodes per cell for cell averages of smooth callables.
_GAUSS_NODES = 8


@dataclass(frozen=True)
class Band:
    """A band: density of states, and optionally ⟨v²⟩(ε) and σ̃(ε), on ``[lo, hi]``.

    Parameters
    ----------
    name
        Label stored in results.
    lo, hi
        Band edges (units of W); ``D = 0`` outside.
    dos
        Vectorised ``D(ε)`` (any normalisation: the model normalises to one state).
    v2
        Vectorised ⟨v²⟩(ε) (any units: only ratios enter σ/σ_0), or None.
    sigma_tilde
        Vectorised σ̃(ε) (Eq. 9; any units), or None to derive it from the transport model.
    cumulative
        Optional exact antiderivative of ``dos`` (used for cell averages; needed where ``dos``
        has integrable singularities, e.g. the 1D band).
    table
        ``(eps, D, v2)`` when the band was given as a table (D piecewise linear in between).
    """

    name: str
    lo: float
    hi: float
    dos: Callable[[np.ndarray], np.ndarray]
    v2: Callable[[np.ndarray], np.ndarray] | None = None
    sigma_tilde: Callable[[np.ndarray], np.ndarray] | None = None
    cumulative: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    table: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = field(default=None,
                                                                           repr=False)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and self.hi > self.lo):
            raise ValueError(f"band edges must be finite with hi > lo, got [{self.lo}, {self.hi}]")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_table(cls, eps: np.ndarray, dos: np.ndarray, v2: np.ndarray | None = None,
                   name: str = "table") -> Band:
        """A band from sampled ``D(ε)`` (and ⟨v²⟩), linear in between (exact cell integrals).

        Raises
        ------
        ValueError
            If the table is not increasing in ε, has fewer than two points, or ``D`` is
            negative somewhere or zero everywhere.
        """
        eps = np.asarray(eps, float)
        d = np.asarray(dos, float)
        if eps.ndim != 1 or eps.size < 2 or d.shape != eps.shape:
            raise ValueError("a DoS table needs two 1-D arrays (eps, D) of equal length >= 2")
        if not np.all(np.isfinite(eps)) or np.any(np.diff(eps) <= 0):
            raise ValueError("the energies of a DoS table must be finite and increasing")
        _check_dos_values(d)
        w = None
        if v2 is not None:
            w = np.asarray(v2, float)
            if w.shape != eps.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
                raise ValueError("v2 must be a finite nonnegative array like eps")
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(eps))])

        def dos_fn(x: np.ndarray) -> np.ndarray:
            return np.interp(x, eps, d, left=0.0, right=0.0)

        def cum_fn(x: np.ndarray) -> np.ndarray:
            x = np.clip(np.asarray(x, float), eps[0], eps[-1])
            k = np.clip(np.searchsorted(eps, x, side="right") - 1, 0, eps.size - 2)
            dx = x - eps[k]
            slope = (d[k + 1] - d[k]) / (eps[k + 1] - eps[k])
            return cum[k] + d[k] * dx + 0.5 * slope * dx**2

        v2_fn = None if w is None else (lambda x: np.interp(x, eps, w, left=0.0, right=0.0))
        return cls(name, float(eps[0]), float(eps[-1]), dos_fn, v2_fn, None, cum_fn,
                   (eps, d, w))

    # ------------------------------------------------------------------ cell averages
    def cell_average(self, edges: np.ndarray, what: str = "dos") -> np.ndarray:
        """``(1/h) ∫_cell g dε`` over the cells between consecutive ``edges``.

        ``what`` is ``"dos"`` (exact when an antiderivative or a table is known, Gauss–
        Legendre otherwise) or the name of a product ``"dos*v2"``, ``"v2"``, ``"dos*v"``,
        ``"sigma_tilde"``, evaluated by Gauss–Legendre quadrature (smooth integrands).
        """
        edges = np.asarray(edges, float)
        width = np.diff(edges)
        if what == "dos" and self.cumulative is not None:
            a = np.clip(edges, self.lo, self.hi)
            return np.diff(self.cumulative(a)) / width
        func = self._integrand(what)
        nodes, weights = np.polynomial.legendre.leggauss(_GAUSS_NODES)
        lo = np.maximum(edges[:-1], self.lo)
        hi = np.minimum(edges[1:], self.hi)
        span = np.maximum(hi - lo, 0.0)
        x = 0.5 * (lo + hi)[:, None] + 0.5 * span[:, None] * nodes[None, :]
        values = np.where(span[:, None] > 0, func(x), 0.0)
        return 0.5 * span * (values @ weights) / width

    def _integrand(self, what: str) -> Callable[[np.ndarray], np.ndarray]:
        dos, v2 = self.dos, self.v2
        if what == "dos":
            return dos
        if what == "sigma_tilde":
            if self.sigma_tilde is None:
                raise ValueError(f"band {self.name!r} has no sigma_tilde")
            return self.sigma_tilde
        if v2 is None:
            raise ValueError(f"the transport model needs v2(eps), which band {self.name!r} "
                             "lacks: give v2 or use transport='constant-v2tau'")
        if what == "dos*v2":
            return lambda x: dos(x) * v2(x)
        if what == "v2":
            return v2
        if what == "dos*v":
            return lambda x: dos(x) * np.sqrt(np.maximum(v2(x), 0.0))
        raise ValueError(f"unknown band quantity {what!r}")


def _check_dos_values(d: np.ndarray) -> None:
    if not np.all(np.isfinite(d)):
        raise ValueError("the density of states must be finite")
    if np.any(d < 0):
        raise ValueError(f"the density of states is negative somewhere (min {d.min():.3g})")
    if not np.any(d > 0):
        raise ValueError("the density of states is zero everywhere")


# --------------------------------------------------------------------------------------------
# Built-in bands


def semi_elliptic() -> Band:
    """Semi-elliptic trial DoS ``D = (4/π) √(1 − 4ε²)`` on ``[-1/2, 1/2]`` (increasing below 0).

    The increasing-DoS trial shape used for main-text Figs. 1–3 (the paper does not give its
    formula; any DoS rising from the lower edge to μ shows the effect).
    """

    def dos(x: np.ndarray) -> np.ndarray:
        return 4.0 / np.pi * np.sqrt(np.clip(1.0 - 4.0 * np.asarray(x) ** 2, 0.0, None))

    def cum(x: np.ndarray) -> np.ndarray:
        y = np.clip(2.0 * np.asarray(x), -1.0, 1.0)
        return 0.5 + (y * np.sqrt(1.0 - y**2) + np.arcsin(y)) / np.pi

    return Band("semi-elliptic", -0.5, 0.5, dos, None, None, cum)


def sqrt_edge() -> Band:
    """Free-electron (3D) trial DoS ``D ∝ √(ε + 1/2)`` on ``[-1/2, 1/2]``: increasing everywhere."""

    def dos(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return np.where(np.abs(x) <= 0.5, 1.5 * np.sqrt(np.clip(x + 0.5, 0.0, None)), 0.0)

    def cum(x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x) + 0.5, 0.0, 1.0) ** 1.5

    return Band("sqrt-edge", -0.5, 0.5, dos, None, None, cum)


def linear_ramp() -> Band:
    """Linearly increasing trial DoS ``D = 2 (ε + 1/2)`` on ``[-1/2, 1/2]``."""

    def dos(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return np.where(np.abs(x) <= 0.5, 2.0 * (x + 0.5), 0.0)

    def cum(x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x) + 0.5, 0.0, 1.0) ** 2

    return Band("linear-ramp", -0.5, 0.5, dos, None, None, cum)


def cosine_1d() -> Band:
    """1D band ``ε_k = −(W/2) cos k`` (supplement Eq. 54): ``D = (2/π)/√(1 − 4ε²)``,
    ``v² = 1/4 − ε²``.

    The edge singularities are integrable; the model uses exact cell averages (from the
    antiderivative ``1/2 + arcsin(2ε)/π``), which regularises them (supplement Fig. 5).  With
    ``transport="constant-tau"`` σ̃ ∝ √(1 − 4ε²) and with ``"impurity"`` σ̃ ∝ 1 − 4ε²
    (supplement Eq. 55, corrected: the paper prints (1 − 2ε/W)², see docs/photoexcited.md).
    """

    def dos(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        inside = np.abs(x) < 0.5
        safe = np.where(inside, 1.0 - 4.0 * x**2, 1.0)
        return np.where(inside, 2.0 / np.pi / np.sqrt(safe), 0.0)

    def cum(x: np.ndarray) -> np.ndarray:
        return 0.5 + np.arcsin(np.clip(2.0 * np.asarray(x), -1.0, 1.0)) / np.pi

    def v2(x: np.ndarray) -> np.ndarray:
        return np.clip(0.25 - np.asarray(x) ** 2, 0.0, None)

    return Band("cosine-1d", -0.5, 0.5, dos, v2, None, cum)


def p_band(t1: float = _PB.t1, t2: float = _PB.t2, t3: float = _PB.t3, mesh: int = _PB.mesh,
           bins: int = _PB.bins) -> Band:
    """Three-orbital p-band model of supplement §I on a k-mesh, rescaled to ``[-1/2, 1/2]``.

    ``D(ε)`` and ``⟨|v|²⟩(ε)`` are histograms of the eigenvalues of
    :func:`boltzphlow.bands.p_band_model` (``t1, t2, t3`` in units of 100 meV; the paper's
    −100, 30, 200 meV by default) on a ``mesh³`` Monkhorst–Pack mesh, velocities from the
    Hellmann–Feynman theorem ``v_n = ⟨n|∂H/∂k|n⟩``, tabulated at the ``bins`` bin centres.
    """
    eps, dos, v2 = _p_band_table(float(t1), float(t2), float(t3), int(mesh), int(bins))
    return Band.from_table(eps, dos, v2, name=f"p-band(t1={t1:g}, t2={t2:g}, t3={t3:g})")


@lru_cache(maxsize=8)
def _p_band_table(t1: float, t2: float, t3: float, mesh: int, bins: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from boltzphlow.bands import p_band_model
    from boltzphlow.grids.kmesh import KMesh

    if mesh < 4 or bins < 8:
        raise ValueError("the p-band model needs mesh >= 4 and bins >= 8")
    model = p_band_model(t1, t2, t3)
    energies, speeds2 = [], []
    for block in model.mesh_blocks(KMesh.monkhorst_pack((mesh,) * 3)):
        e, u = np.linalg.eigh(block.h)
        # v_n,a = <n| dH/dk_a |n>
        v = np.einsum("mjn,majk,mkn->man", u.conj(), block.dh, u).real
        energies.append(e.ravel())
        speeds2.append(np.sum(v**2, axis=1).ravel())
    e = np.concatenate(energies)
    s2 = np.concatenate(speeds2)
    lo, hi = float(e.min()), float(e.max())
    x = (e - 0.5 * (lo + hi)) / (hi - lo)
    scale = (hi - lo) ** 2  # velocities in units of W (times lattice constant)
    edges = np.linspace(-0.5, 0.5, bins + 1)
    counts, _ = np.histogram(x, edges)
    v2sum, _ = np.histogram(x, edges, weights=s2 / scale)
    centres = 0.5 * (edges[1:] + edges[:-1])
    dos = counts / (counts.sum() * np.diff(edges))
    v2 = np.where(counts > 0, v2sum / np.maximum(counts, 1), 0.0)
    # the table is linear between centres: close it at the edges with D = 0
    eps = np.concatenate([[-0.5], centres, [0.5]])
    return eps, np.concatenate([[0.0], dos, [0.0]]), np.concatenate([[v2[0]], v2, [v2[-1]]])


#: Largest DoS table file :func:`read_dos_file` reads (a table of 10⁶ rows is about 60 MB).
DOS_FILE_MAX_BYTES = 64 * 2**20


def read_dos_file(path: str | os.PathLike[str], key: str = "dos_file") -> Band:
    """A band from a text table: rows ``eps D`` or ``eps D v2`` (``#`` starts a comment).

    The file must be a regular file of at most :data:`DOS_FILE_MAX_BYTES`; it is read once,
    bounded, and parsed strictly: every data row holds the same number (2 or 3) of finite
    numbers, ``eps`` increases, ``D`` and ``v2`` are nonnegative.  ``D`` may have any
    normalisation and ``v2`` any units.

    Raises
    ------
    boltzphlow.errors.InputError
        One line naming ``key``, the file and the line at fault (file contents are never
        quoted).
    """
    where = f"{key} {shorten(str(path))}"
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise InputError(f"{where}: cannot read it ({reason})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{where}: not a regular file")
    too_big = (f"{where}: larger than the {format_bytes(DOS_FILE_MAX_BYTES)} a DoS table "
               "may have")
    if info.st_size > DOS_FILE_MAX_BYTES:
        raise InputError(too_big)
    try:
        with open(path, "rb") as handle:
            data = handle.read(DOS_FILE_MAX_BYTES + 1)  # bounded even if the file grows
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({exc.strerror or type(exc).__name__})"
                         ) from None
    if len(data) > DOS_FILE_MAX_BYTES:
        raise InputError(too_big)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{where} line {line}: not UTF-8 text") from None
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        fields = body.split()
        if len(fields) not in (2, 3):
            raise InputError(f"{where} line {number}: expected 2 or 3 numbers (eps D [v2]), "
                             f"found {len(fields)} fields")
        if rows and len(fields) != len(rows[0]):
            raise InputError(f"{where} line {number}: {len(fields)} columns where line "
                             f"{lines[0]} has {len(rows[0])}")
        try:
            values = [float(item) for item in fields]
        except ValueError:
            raise InputError(f"{where} line {number}: not a number") from None
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"{where} line {number}: not a finite number")
        rows.append(values)
        lines.append(number)
    if len(rows) < 2:
        raise InputError(f"{where}: needs at least two rows (eps D [v2]), found {len(rows)}")
    table = np.array(rows)
    line_of = np.array(lines)
    bad = np.flatnonzero(np.diff(table[:, 0]) <= 0)
    if bad.size:
        raise InputError(f"{where} line {line_of[bad[0] + 1]}: eps does not increase")
    for column, name in ((1, "D"), (2, "v2")):
        if column < table.shape[1]:
            negative = np.flatnonzero(table[:, column] < 0)
            if negative.size:
                raise InputError(f"{where} line {line_of[negative[0]]}: {name} is negative")
    if not np.any(table[:, 1] > 0):
        raise InputError(f"{where}: the density of states D is zero everywhere")
    v2 = table[:, 2] if table.shape[1] == 3 else None
    name = Path(path).name
    return Band.from_table(table[:, 0], table[:, 1], v2,
                           name=name if len(name) <= 60 else name[:57] + "...")


BUILTIN_BANDS: dict[str, Callable[[], Band]] = {
    "semi-elliptic": semi_elliptic,
    "sqrt-edge": sqrt_edge,
    "linear-ramp": linear_ramp,
    "cosine-1d": cosine_1d,
    "p-band": p_band,
}


def as_band(dos: Band | str | Callable | tuple, *, v2: Callable | np.ndarray | None = None,
            sigma_tilde: Callable | None = None, band_edges: tuple[float, float] = (-0.5, 0.5)
            ) -> Band:
    """Normalise the accepted DoS inputs to a :class:`Band`.

    Parameters
    ----------
    dos
        A :class:`Band`; a built-in name (:data:`BUILTIN_BANDS`); a callable ``D(ε)`` on
        ``band_edges``; or a table ``(eps, D)``.
    v2
        ⟨v²⟩(ε): callable (with a callable ``dos``) or array (with a table).
    sigma_tilde
        σ̃(ε) callable, overriding the transport model.
    band_edges
        Support of a callable ``dos``.
    """
    if isinstance(dos, Band):
        band = dos
    elif isinstance(dos, str):
        if dos not in BUILTIN_BANDS:
            raise ValueError(f"unknown DoS {dos!r} (built in: {', '.join(BUILTIN_BANDS)})")
        band = BUILTIN_BANDS[dos]()
    elif callable(dos):
        lo, hi = (float(b) for b in band_edges)
        probe = np.linspace(lo, hi, 2001)
        values = np.asarray(dos(probe), float)
        if values.shape != probe.shape:
            raise ValueError("the DoS callable must be vectorised: D(eps_array) -> array")
        _check_dos_values(values)
        band = Band("user", lo, hi, dos)
    elif isinstance(dos, tuple | list) and len(dos) == 2:
        v2_table = None if v2 is None or callable(v2) else np.asarray(v2, float)
        band = Band.from_table(np.asarray(dos[0]), np.asarray(dos[1]), v2_table, name="table")
        if callable(v2):
            band = Band(band.name, band.lo, band.hi, band.dos, v2, None, band.cumulative,
                        band.table)
        v2 = None
    else:
        raise ValueError("dos must be a Band, a built-in name, a callable D(eps) or a table "
                         "(eps, D)")
    if v2 is not None or sigma_tilde is not None:
        if v2 is not None and not callable(v2):
            raise ValueError("v2 must be a callable for a callable or named DoS")
        band = Band(band.name, band.lo, band.hi, band.dos, v2 if v2 is not None else band.v2,
                    sigma_tilde, band.cumulative, band.table)
    return band
