"""Errors of the payload codecs beyond ``conveyor.errors``."""

from __future__ import annotations

from conveyor.errors import InvalidArgumentError


class UnsupportedMediaTypeError(InvalidArgumentError):
    """The request's ``Content-Type`` is not one the endpoint reads (HTTP 415)."""

    status_code = 415
