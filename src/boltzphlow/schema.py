"""The base of every config schema: unknown keys are errors and numbers are strict.

Every table of every model's config derives from :class:`ConfigModel`:

* ``extra="forbid"``: a misspelt key is an error, never a silent default;
* ``strict=True``: ``true`` is not a number, ``2.5`` is not a count, ``"3"`` is not a float
  (quantities with units are :func:`boltzphlow.units.Quantity` fields, which take numbers and
  unit strings).  TOML gives arrays as lists: declare ``list[...]`` fields, or mark a field
  ``Field(strict=False)`` where lax conversion is wanted (``Path`` from a string).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ConfigModel"]


class ConfigModel(BaseModel):
    """Base of config tables: unknown keys forbidden, strict types."""

    model_config = ConfigDict(extra="forbid", strict=True)
