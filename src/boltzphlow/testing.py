"""Assertion helpers for tests of BoltzPhlow results (in the spirit of ``xarray.testing``)."""

from __future__ import annotations

import xarray as xr

from boltzphlow.results import check_metadata, is_provenance

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

    Provenance attributes (:func:`boltzphlow.results.is_provenance`: versions, host, creation
    time and every timing attribute such as ``wall_time_s`` or ``compute_time_s``) are ignored,
    on the Dataset and on its variables; everything else, the stored config and ``complete``
    included, must match exactly.  Use it to check that a resumed run equals an uninterrupted
    one, or that two runs of one config agree.
    """
    __tracebackhide__ = True
    xr.testing.assert_identical(_without_provenance(actual), _without_provenance(expected))


def _without_provenance(ds: xr.Dataset) -> xr.Dataset:
    out = ds.copy(deep=False)
    out.attrs = _kept(ds.attrs)
    for variable in out.variables.values():
        variable.attrs = _kept(variable.attrs)
    return out


def _kept(attrs: dict) -> dict:
    return {key: value for key, value in attrs.items() if not is_provenance(str(key))}
