"""Flavors: one module per kind of model, found through ``conveyor.models.flavors.base``."""

from conveyor.models.flavors.base import Flavor, SavedFlavor, flavor_for, get_flavor

__all__ = ["Flavor", "SavedFlavor", "flavor_for", "get_flavor"]
