"""Public transformers architectures: tiny configs, random weights (no download), small inputs.

Each factory returns (model, example_inputs); the model returns one tensor (its main output).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import _torchvision_cpu  # noqa: E402,F401 - transformers imports torchvision when it is installed
import torch  # noqa: E402
import transformers as tf  # noqa: E402

TEXT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=100,
            max_position_embeddings=64)
IMAGE = dict(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
             num_attention_heads=2, intermediate_size=64)


class Main(torch.nn.Module):
    """The model's first output, so that converters see a plain tensor."""

    def __init__(self, model, **kwargs):
        super().__init__()
        self.model = model
        self.kwargs = kwargs

    def forward(self, *args):
        return self.model(*args, return_dict=False, **self.kwargs)[0]


def _build(model_cls, config, *inputs, **kwargs):
    torch.manual_seed(0)
    return Main(model_cls(config).eval(), **kwargs).eval(), inputs


def _ids(n=8):
    return torch.randint(3, 100, (1, n))


def _pixels(size=32):
    return torch.rand(1, 3, size, size)


def bert():
    return _build(tf.BertModel, tf.BertConfig(**TEXT), _ids())


def distilbert():
    cfg = tf.DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, vocab_size=100, max_position_embeddings=64)
    return _build(tf.DistilBertModel, cfg, _ids())



def albert():
    return _build(tf.AlbertModel, tf.AlbertConfig(embedding_size=16, **TEXT), _ids())



def mobilebert():
    cfg = tf.MobileBertConfig(embedding_size=16, true_hidden_size=16, intra_bottleneck_size=16,
                              num_feedforward_networks=1, **{**TEXT, "intermediate_size": 32})
    return _build(tf.MobileBertModel, cfg, _ids())


def gpt2():
    cfg = tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64)
    return _build(tf.GPT2LMHeadModel, cfg, _ids(), use_cache=False)


def gpt_neox():
    return _build(tf.GPTNeoXForCausalLM, tf.GPTNeoXConfig(**TEXT), _ids(), use_cache=False)


def opt():
    cfg = tf.OPTConfig(hidden_size=32, ffn_dim=64, word_embed_proj_dim=32, num_hidden_layers=2,
                       num_attention_heads=2, vocab_size=100, max_position_embeddings=64)
    return _build(tf.OPTForCausalLM, cfg, _ids(), use_cache=False)


def bloom():
    cfg = tf.BloomConfig(hidden_size=32, n_layer=2, n_head=2, vocab_size=100)
    return _build(tf.BloomForCausalLM, cfg, _ids(), use_cache=False)


def llama():
    cfg = tf.LlamaConfig(num_key_value_heads=1, **TEXT)
    return _build(tf.LlamaForCausalLM, cfg, _ids(), use_cache=False)


def mistral():
    cfg = tf.MistralConfig(num_key_value_heads=1, sliding_window=4, **TEXT)
    return _build(tf.MistralForCausalLM, cfg, _ids(), use_cache=False)



def phi():
    return _build(tf.PhiForCausalLM, tf.PhiConfig(**TEXT), _ids(), use_cache=False)


def t5_encoder():
    cfg = tf.T5Config(d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2, vocab_size=100)
    return _build(tf.T5EncoderModel, cfg, _ids())


def bart():
    cfg = tf.BartConfig(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=100,
                        max_position_embeddings=64)
    return _build(tf.BartModel, cfg, _ids(), use_cache=False)


def whisper_encoder():
    cfg = tf.WhisperConfig(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                           num_mel_bins=16, max_source_positions=16, vocab_size=100, pad_token_id=0,
                           bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    return _build(tf.models.whisper.modeling_whisper.WhisperEncoder, cfg, torch.rand(1, 16, 32))


def wav2vec2():
    cfg = tf.Wav2Vec2Config(conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, **{k: v for k, v in TEXT.items() if k != "max_position_embeddings"})
    return _build(tf.Wav2Vec2Model, cfg, torch.rand(1, 400))


def vit():
    return _build(tf.ViTModel, tf.ViTConfig(**IMAGE), _pixels())



def beit():
    return _build(tf.BeitModel, tf.BeitConfig(use_relative_position_bias=True, **IMAGE), _pixels())



def clip_vision():
    return _build(tf.CLIPVisionModel, tf.CLIPVisionConfig(**IMAGE), _pixels())



def yolos():
    cfg = tf.YolosConfig(num_detection_tokens=5, **{**IMAGE, "image_size": [32, 32]})
    return _build(tf.YolosForObjectDetection, cfg, _pixels())


def swin():
    cfg = tf.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4)
    return _build(tf.SwinModel, cfg, _pixels())


def convnext():
    cfg = tf.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], image_size=32)
    return _build(tf.ConvNextModel, cfg, _pixels())


def resnet():
    cfg = tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])
    return _build(tf.ResNetModel, cfg, _pixels())


def regnet():
    cfg = tf.RegNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=8)
    return _build(tf.RegNetModel, cfg, _pixels())


def efficientnet():
    cfg = tf.EfficientNetConfig(image_size=32, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320)
    return _build(tf.EfficientNetModel, cfg, _pixels())


def mobilevit():
    cfg = tf.MobileViTConfig(image_size=32, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 64],
                             num_attention_heads=2)
    return _build(tf.MobileViTModel, cfg, _pixels())


def segformer():
    cfg = tf.SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], decoder_hidden_size=16,
                             num_labels=3)
    return _build(tf.SegformerForSemanticSegmentation, cfg, _pixels())


def levit():
    cfg = tf.LevitConfig(image_size=64, hidden_sizes=[16, 32, 48], num_attention_heads=[1, 2, 3], depths=[1, 1, 1],
                         key_dim=[8, 8, 8], num_labels=10)
    return _build(tf.LevitForImageClassification, cfg, _pixels(64))


def detr():
    backbone = tf.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1],
                               out_features=["stage4"])
    cfg = tf.DetrConfig(use_timm_backbone=False, backbone_config=backbone, use_pretrained_backbone=False, d_model=32,
                        encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=5, num_labels=3)
    return _build(tf.DetrForObjectDetection, cfg, _pixels(64))
