"""Models from other frameworks to attocore graphs and weight files:

    onnx     ONNX files (public name attocore.onnx)
    torch    trainable PyTorch AttoNets, their export and validation (public name attocore.torch)
"""
