"""Small Keras models, each around one stock Keras layer (the TF part of the accuracy corpus)."""

import keras
from keras import layers


def _model(shape, *body, batch_size=None, dtype="float32"):
    inputs = keras.Input(shape, batch_size=batch_size, dtype=dtype)
    x = inputs
    for layer in body:
        x = layer(x)
    return keras.Model(inputs, x)


def lstm():
    return _model((6, 8), layers.LSTM(16), layers.Dense(3))


def lstm_batch1():
    return _model((6, 8), layers.LSTM(16), layers.Dense(3), batch_size=1)


def lstm_unrolled():
    return _model((6, 8), layers.LSTM(16, unroll=True), layers.Dense(3))


def gru():
    return _model((6, 8), layers.GRU(16, return_sequences=True), layers.Dense(3))


def gru_batch1():
    return _model((6, 8), layers.GRU(16), batch_size=1)


def bidirectional_lstm():
    return _model((6, 8), layers.Bidirectional(layers.LSTM(8)), layers.Dense(3))


def simple_rnn():
    return _model((6, 8), layers.SimpleRNN(16), layers.Dense(3))


def category_encoding():
    return _model((4,), layers.CategoryEncoding(num_tokens=10, output_mode="multi_hot"), dtype="int32")


def discretization():
    return _model((4,), layers.Discretization(bin_boundaries=[0.0, 0.5, 1.0]))


def string_lookup():
    return _model((3,), layers.StringLookup(vocabulary=["a", "b", "c"]), dtype="string")


def integer_lookup():
    return _model((3,), layers.IntegerLookup(vocabulary=[3, 7, 11]), dtype="int64")


def hashing():
    return _model((3,), layers.Hashing(num_bins=8), dtype="int64")


def embedding():
    return _model((5,), layers.Embedding(20, 8), layers.GlobalAveragePooling1D(), dtype="int32")


def conv1d():
    return _model((16, 4), layers.Conv1D(8, 3, padding="same", activation="relu"), layers.GlobalMaxPooling1D())


def conv2d():
    return _model((16, 16, 3), layers.Conv2D(8, 3, strides=2, activation="relu"), layers.Flatten(), layers.Dense(2))


def depthwise_conv2d():
    return _model((16, 16, 4), layers.DepthwiseConv2D(3, padding="same"), layers.BatchNormalization())


def separable_conv2d():
    return _model((16, 16, 4), layers.SeparableConv2D(8, 3))


def conv2d_transpose():
    return _model((8, 8, 4), layers.Conv2DTranspose(4, 3, strides=2, padding="same"))


def conv3d():
    return _model((8, 8, 8, 2), layers.Conv3D(4, 3), layers.GlobalAveragePooling3D())


def layer_normalization():
    return _model((6, 16), layers.LayerNormalization(), layers.Dense(4))


def group_normalization():
    return _model((8, 8, 8), layers.GroupNormalization(groups=4))


def multi_head_attention():
    inputs = keras.Input((6, 16))
    x = layers.MultiHeadAttention(num_heads=2, key_dim=8)(inputs, inputs)
    return keras.Model(inputs, x)


def resizing_bilinear():
    return _model((8, 8, 3), layers.Resizing(16, 16))


def resizing_bicubic():
    return _model((8, 8, 3), layers.Resizing(16, 16, interpolation="bicubic"))


def upsampling2d():
    return _model((8, 8, 3), layers.UpSampling2D(2, interpolation="bilinear"))


def normalization():
    return _model((4,), layers.Normalization(mean=[0.0, 1.0, 2.0, 3.0], variance=[1.0, 1.0, 2.0, 2.0]))


def dense_gelu():
    return _model((8,), layers.Dense(8, activation="gelu"))
