"""Front ends: turn a model (PyTorch, ONNX file, TensorFlow) into an `OpGraph`."""
