"""tf.Modules whose `__call__` is a tf.function with an input signature around one stock TF op (the TF part of
the accuracy corpus): the form SavedModel export and most TF code use."""

import tensorflow as tf

F32 = tf.float32


def _module(fn, *specs):
    class Op(tf.Module):
        @tf.function(input_signature=list(specs))
        def __call__(self, *xs):
            return fn(*xs)

    Op.__name__ = Op.__qualname__ = fn.__name__
    return Op()


def sort():
    def sort(x):
        return tf.sort(x, axis=-1, direction="DESCENDING")
    return _module(sort, tf.TensorSpec([4, 8], F32))


def top_k():
    def top_k(x):
        return tf.math.top_k(x, k=3).values
    return _module(top_k, tf.TensorSpec([4, 8], F32))


def argsort():
    def argsort(x):
        return tf.argsort(x, axis=-1)
    return _module(argsort, tf.TensorSpec([4, 8], F32))


def roll():
    def roll(x):
        return tf.roll(x, shift=2, axis=1)
    return _module(roll, tf.TensorSpec([4, 8], F32))


def svd():
    def svd(x):
        return tf.linalg.svd(x, compute_uv=False)
    return _module(svd, tf.TensorSpec([3, 4, 4], F32))


def matrix_inverse():
    def matrix_inverse(x):
        return tf.linalg.inv(x + 4.0 * tf.eye(4))
    return _module(matrix_inverse, tf.TensorSpec([2, 4, 4], F32))


def rfft():
    def rfft(x):
        return tf.abs(tf.signal.rfft(x))
    return _module(rfft, tf.TensorSpec([2, 16], F32))


def stft():
    def stft(x):
        return tf.abs(tf.signal.stft(x, frame_length=16, frame_step=8))
    return _module(stft, tf.TensorSpec([1, 64], F32))


def ctc_greedy_decoder():
    def ctc_greedy_decoder(logits, lengths):
        decoded, _ = tf.nn.ctc_greedy_decoder(logits, lengths)
        return tf.sparse.to_dense(decoded[0])
    return _module(ctc_greedy_decoder, tf.TensorSpec([10, 1, 5], F32), tf.TensorSpec([1], tf.int32))


def einsum():
    def einsum(x, y):
        return tf.einsum("bij,bjk->bik", x, y)
    return _module(einsum, tf.TensorSpec([2, 4, 8], F32), tf.TensorSpec([2, 8, 3], F32))


def resize_bicubic():
    def resize_bicubic(x):
        return tf.image.resize(x, [16, 16], method="bicubic")
    return _module(resize_bicubic, tf.TensorSpec([1, 8, 8, 3], F32))


def bincount():
    def bincount(x):
        return tf.math.bincount(x, minlength=8, maxlength=8)
    return _module(bincount, tf.TensorSpec([16], tf.int32))


def unique():
    def unique(x):
        return tf.unique(x).y
    return _module(unique, tf.TensorSpec([8], tf.int32))


def cumsum():
    def cumsum(x):
        return tf.cumsum(x, axis=1, exclusive=True)
    return _module(cumsum, tf.TensorSpec([4, 8], F32))


def nonzero():
    def nonzero(x):
        return tf.where(x > 0.5)
    return _module(nonzero, tf.TensorSpec([4, 8], F32))


def non_max_suppression():
    def non_max_suppression(boxes, scores):
        return tf.image.non_max_suppression(boxes, scores, max_output_size=4, iou_threshold=0.5)
    return _module(non_max_suppression, tf.TensorSpec([8, 4], F32), tf.TensorSpec([8], F32))


def segment_sum():
    def segment_sum(x):
        return tf.math.unsorted_segment_sum(x, [0, 1, 0, 1], num_segments=2)
    return _module(segment_sum, tf.TensorSpec([4, 8], F32))


def scatter_nd():
    def scatter_nd(updates):
        return tf.scatter_nd([[1], [3]], updates, [6, 4])
    return _module(scatter_nd, tf.TensorSpec([2, 4], F32))


def gather_nd():
    def gather_nd(x):
        return tf.gather_nd(x, [[0, 1], [2, 3]])
    return _module(gather_nd, tf.TensorSpec([4, 8], F32))


def matrix_band_part():
    def matrix_band_part(x):
        return tf.linalg.band_part(x, 0, -1)
    return _module(matrix_band_part, tf.TensorSpec([4, 4], F32))


def extract_patches():
    def extract_patches(x):
        return tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    return _module(extract_patches, tf.TensorSpec([1, 8, 8, 3], F32))


def bucketize():
    def bucketize(x):
        return tf.raw_ops.Bucketize(input=x, boundaries=[0.0, 0.5, 1.0])
    return _module(bucketize, tf.TensorSpec([4, 8], F32))


def reverse_sequence():
    def reverse_sequence(x, lengths):
        return tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    return _module(reverse_sequence, tf.TensorSpec([2, 6, 3], F32), tf.TensorSpec([2], tf.int32))


def logsumexp():
    def logsumexp(x):
        return tf.math.reduce_logsumexp(x, axis=1)
    return _module(logsumexp, tf.TensorSpec([4, 8], F32))


def erfc():
    def erfc(x):
        return tf.math.erfc(x)
    return _module(erfc, tf.TensorSpec([4, 8], F32))


def cumprod():
    def cumprod(x):
        return tf.math.cumprod(x, axis=1)
    return _module(cumprod, tf.TensorSpec([4, 8], F32))


def searchsorted():
    def searchsorted(x):
        return tf.searchsorted(tf.constant([0.0, 0.25, 0.5, 1.0]), x)
    return _module(searchsorted, tf.TensorSpec([8], F32))


def space_to_batch():
    def space_to_batch(x):
        return tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])
    return _module(space_to_batch, tf.TensorSpec([1, 8, 8, 3], F32))


def float64_math():
    def float64_math(x):
        return tf.cast(tf.math.log(tf.cast(x, tf.float64) + 1.0), F32)
    return _module(float64_math, tf.TensorSpec([4, 8], F32))
