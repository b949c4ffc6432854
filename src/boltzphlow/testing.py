"""Assertion helpers for tests of BoltzPhlow results (in the spirit of ``xarray.testing``)."""

from __future__ import annotations

import xarray as xr

from boltzphlow.results import PROVENANCE_ATTRS, check_metadata

__all__ = ["assert_has_metadata", "assert_results_identical"]


def assert_has_metadata(ds: xr.Dataset) -> None:
    """Assert that every data variable and coordinate of ``ds`` has ``units`` and ``long_name``.

    Raises
    ------
    AssertionError
        Naming the variables that lack them.
    """
    __tracebackhide__ = True
    try:
        check_metadata(ds)
    except ValueError as exc:
        raise AssertionError(str(exc)) from None


def assert_results_identical(actual: xr.Dataset, expected: xr.Dataset) -> None:
    """Assert two results are identical (values, coordinates, all attributes) up to provenance.

    The attributes in :data:`boltzphlow.results.PROVENANCE_ATTRS` (wall time, creation time,
    host, versions) are ignored; everything else, the stored config and ``complete`` included,
    must match exactly.  Use it to check that a resumed run equals an uninterrupted one.
    """
    __tracebackhide__ = True
    xr.testing.assert_identical(_without_provenance(actual), _without_provenance(expected))


def _without_provenance(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy(deep=False)
    out.attrs = {key: value for key, value in ds.attrs.items() if key not in PROVENANCE_ATTRS}
    return out
