"""keras.applications architectures, weights=None, at small input sizes (the TF part of the accuracy corpus)."""

import keras

apps = keras.applications


def mobilenet_v2():
    return apps.MobileNetV2(weights=None, input_shape=(96, 96, 3))


def mobilenet_v3_small():
    return apps.MobileNetV3Small(weights=None, input_shape=(96, 96, 3))


def resnet50():
    return apps.ResNet50(weights=None, input_shape=(64, 64, 3))


def efficientnet_b0():
    return apps.EfficientNetB0(weights=None, input_shape=(64, 64, 3))


def efficientnet_v2_b0():
    return apps.EfficientNetV2B0(weights=None, input_shape=(64, 64, 3))


def convnext_tiny():
    return apps.ConvNeXtTiny(weights=None, input_shape=(64, 64, 3))


def densenet121():
    return apps.DenseNet121(weights=None, input_shape=(64, 64, 3))


def inception_v3():
    return apps.InceptionV3(weights=None, input_shape=(75, 75, 3))


def xception():
    return apps.Xception(weights=None, input_shape=(71, 71, 3))


def vgg16():
    return apps.VGG16(weights=None, input_shape=(32, 32, 3))


def mobilenet_v1():
    return apps.MobileNet(weights=None, input_shape=(64, 64, 3))
