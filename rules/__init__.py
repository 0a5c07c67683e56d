"""Data shipped inside the wheel as `exportlint.ruledata`: the support tables (`tables/`)."""
