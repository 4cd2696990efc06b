"""distconform: a conformance suite for distributed-systems building blocks.

A regular package, not a namespace one, on purpose: pytest marks the modules
of a pytest11 plugin's distribution for assertion rewriting, and in a wheel
without this file it took the package's files for top-level modules
(``distconform/html.py`` as ``html``), so every run from an installed wheel
warned that the standard library's ``html`` could not be rewritten.

PYTEST_DONT_REWRITE: this module has no asserts, and ``distconform verify``
has imported it before it starts pytest, which would otherwise warn that
``distconform`` was imported too early to be rewritten (its submodules are
still rewritten when pytest imports them first).
"""
