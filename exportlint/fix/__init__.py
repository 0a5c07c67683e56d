"""Rewrites that remove findings: graph passes and source codemods."""
