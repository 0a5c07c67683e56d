"""The rule engine: rule types, the registry and the runner."""
