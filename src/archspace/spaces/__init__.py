"""The catalog of search spaces; each module cites the paper its space comes from."""

from archspace.spaces._registry import (
    CATALOG,
    Trust,
    UntrustedSpaceError,
    check_trusted,
    get_space,
    is_catalog_space,
    list_spaces,
    parse_params,
    space_class,
    space_params,
    space_target,
)

__all__ = ["CATALOG", "Trust", "UntrustedSpaceError", "check_trusted", "get_space",
           "is_catalog_space", "list_spaces", "parse_params", "space_class", "space_params",
           "space_target"]
