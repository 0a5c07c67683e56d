"""The target families: one module per deployment runtime, each a `exportlint.family.Family` subclass,
found by discovery (`exportlint.family.all_families`)."""
