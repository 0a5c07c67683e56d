"""Every rule lives in a module of this package; the registry discovers them.

Code ranges:
EXL0xx capture and internal, EXL1xx operator and dtype support per target, EXL2xx shapes and
dynamism, EXL3xx layers and activations, EXL4xx preprocessing and training-mode behaviour,
EXL5xx source-only rules (no model execution).
"""
