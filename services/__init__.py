raise ImportError(
    "services/ is not a package: the package is `wirewatch` (services/wirewatch), install it with `make install`"
)
