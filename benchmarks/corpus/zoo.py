"""More public architectures (transformers and timm; not in hf.py / vision.py), first checked as a held-out set
on 2026-12-02: tiny configs, random weights, offline, small inputs.

Each factory returns (model, example_inputs); the model returns one tensor (its main output).
"""

from hf import IMAGE, TEXT, _build  # first: hf.py sets HF_HUB_OFFLINE and imports _torchvision_cpu

import timm  # noqa: E402
import torch  # noqa: E402
import transformers as tf  # noqa: E402


def _ids(n=8):
    torch.manual_seed(1)
    return torch.randint(3, 100, (1, n))


def _pixels(size=32):
    torch.manual_seed(1)
    return torch.rand(1, 3, size, size)


def _timm(name, size=64, **kwargs):
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs).eval(), (_pixels(size),)


# ---- encoders (text) ----

def roberta():
    return _build(tf.RobertaModel, tf.RobertaConfig(pad_token_id=1, **TEXT), _ids())


def electra():
    return _build(tf.ElectraModel, tf.ElectraConfig(embedding_size=16, **TEXT), _ids())


def deberta_v2():
    cfg = tf.DebertaV2Config(relative_attention=True, position_buckets=16, max_relative_positions=16,
                             pos_att_type=["p2c", "c2p"], **TEXT)
    return _build(tf.DebertaV2Model, cfg, _ids())


def squeezebert():
    cfg = tf.SqueezeBertConfig(embedding_size=32, q_groups=2, k_groups=2, v_groups=2, post_attention_groups=2,
                               intermediate_groups=2, output_groups=2, **TEXT)
    return _build(tf.SqueezeBertModel, cfg, _ids())


def funnel():
    cfg = tf.FunnelConfig(block_sizes=[1, 1], d_model=32, n_head=2, d_head=16, d_inner=64, vocab_size=100)
    return _build(tf.FunnelBaseModel, cfg, _ids())


# ---- decoders (causal LM) ----

def qwen2():
    return _build(tf.Qwen2ForCausalLM, tf.Qwen2Config(num_key_value_heads=1, **TEXT), _ids(), use_cache=False)


def gemma():
    cfg = tf.GemmaConfig(num_key_value_heads=1, head_dim=16, **TEXT)
    return _build(tf.GemmaForCausalLM, cfg, _ids(), use_cache=False)


def falcon():
    cfg = tf.FalconConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, vocab_size=100,
                          new_decoder_architecture=False, multi_query=True, alibi=False)
    return _build(tf.FalconForCausalLM, cfg, _ids(), use_cache=False)


def gptj():
    cfg = tf.GPTJConfig(n_embd=32, n_layer=2, n_head=2, rotary_dim=8, vocab_size=100, n_positions=64,
                        bos_token_id=1, eos_token_id=2)
    return _build(tf.GPTJForCausalLM, cfg, _ids(), use_cache=False)


def stablelm():
    return _build(tf.StableLmForCausalLM, tf.StableLmConfig(num_key_value_heads=1, **TEXT), _ids(), use_cache=False)


# ---- audio ----

def hubert():
    cfg = tf.HubertConfig(conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=2,
                          **{k: v for k, v in TEXT.items() if k != "max_position_embeddings"})
    return _build(tf.HubertModel, cfg, torch.rand(1, 400))


# ---- vision (transformers) ----

def dinov2():
    return _build(tf.Dinov2Model, tf.Dinov2Config(mlp_ratio=2, **{k: v for k, v in IMAGE.items()
                                                                   if k != "intermediate_size"}), _pixels())


def deit():
    return _build(tf.DeiTModel, tf.DeiTConfig(**IMAGE), _pixels())


def convnextv2():
    cfg = tf.ConvNextV2Config(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], image_size=32)
    return _build(tf.ConvNextV2Model, cfg, _pixels())


def poolformer():
    cfg = tf.PoolFormerConfig(num_encoder_blocks=2, depths=[1, 1], hidden_sizes=[16, 32], patch_sizes=[7, 3],
                              strides=[4, 2], padding=[2, 1], num_labels=10)
    return _build(tf.PoolFormerForImageClassification, cfg, _pixels())


def pvt_v2():
    cfg = tf.PvtV2Config(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                         patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2])
    return _build(tf.PvtV2Model, cfg, _pixels())


def mobilenet_v2_hf():
    cfg = tf.MobileNetV2Config(image_size=32, depth_multiplier=0.35, num_labels=10)
    return _build(tf.MobileNetV2ForImageClassification, cfg, _pixels())


def swinv2():
    cfg = tf.Swinv2Config(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4)
    return _build(tf.Swinv2Model, cfg, _pixels())


# ---- vision (timm) ----

def timm_resnext():
    return _timm("resnext26ts", num_classes=10)


def timm_regnetz():
    return _timm("regnetz_005", num_classes=10)


def timm_maxvit():
    return _timm("test_maxvit", size=64, img_size=64, num_classes=10)


def timm_efficientformer():
    return _timm("efficientformerv2_s0", size=64, img_size=64, num_classes=10)


def timm_xcit():
    return _timm("xcit_nano_12_p16_224", size=64, img_size=64, depth=2, num_classes=10)
