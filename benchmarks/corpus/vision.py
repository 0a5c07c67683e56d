"""Public torchvision and timm architectures, random weights, small inputs (1x3x64x64 unless noted)."""

import _torchvision_cpu  # noqa: F401 - makes the CUDA-built torchvision importable on CPU torch
import timm
import torch
import torchvision.models as tvm
from torchvision.models import detection, segmentation


def _image(size=64):
    return torch.rand(1, 3, size, size)


def _tv(builder, size=64, **kwargs):
    torch.manual_seed(0)
    return builder(weights=None, **kwargs).eval(), (_image(size),)


def _timm(name, size=64, **kwargs):
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs).eval(), (_image(size),)


class Segmentation(torch.nn.Module):
    """torchvision segmentation models return a dict; keep its "out" map."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class Detection(torch.nn.Module):
    """A detector with its post-processing (box decoding, score threshold, nms) on one image."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        found = self.model([x[0]])[0]
        return found["boxes"], found["scores"], found["labels"]


def resnet18():
    return _tv(tvm.resnet18)


def mobilenet_v2():
    return _tv(tvm.mobilenet_v2)


def mobilenet_v3_small():
    return _tv(tvm.mobilenet_v3_small)


def efficientnet_b0():
    return _tv(tvm.efficientnet_b0)


def squeezenet():
    return _tv(tvm.squeezenet1_1)


def shufflenet_v2():
    return _tv(tvm.shufflenet_v2_x0_5)


def mnasnet():
    return _tv(tvm.mnasnet0_5)


def densenet121():
    return _tv(tvm.densenet121)


def regnet_y_400mf():
    return _tv(tvm.regnet_y_400mf)


def convnext_tiny():
    return _tv(tvm.convnext_tiny)


def deeplabv3_mobilenet():
    model, inputs = _tv(segmentation.deeplabv3_mobilenet_v3_large, num_classes=4, weights_backbone=None)
    return Segmentation(model).eval(), inputs


def lraspp_mobilenet():
    model, inputs = _tv(segmentation.lraspp_mobilenet_v3_large, num_classes=4, weights_backbone=None)
    return Segmentation(model).eval(), inputs


def ssdlite_nms():
    model, _ = _tv(detection.ssdlite320_mobilenet_v3_large, num_classes=4, weights_backbone=None)
    return Detection(model).eval(), (_image(320),)


def fasterrcnn_nms():
    model, _ = _tv(detection.fasterrcnn_mobilenet_v3_large_320_fpn, num_classes=4, weights_backbone=None,
                   rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=20, min_size=128, max_size=128)
    return Detection(model).eval(), (_image(128),)


def timm_mobilenetv3():
    return _timm("mobilenetv3_small_050")


def timm_efficientnet():
    return _timm("efficientnet_b0")


def timm_levit():
    return _timm("levit_128s", size=224)


def timm_regnet():
    return _timm("regnetx_002")



def timm_convnext():
    return _timm("convnext_atto")



def timm_mobilevitv2():
    return _timm("mobilevitv2_050")
