"""The documented limits of a model's settings, checked before any layer is built.

A checkpoint's config.json decides how big the networks are, and it may come from a
downloaded model: `"generator_width": 10**9` would ask for terabytes. Every setting is
type-checked against `ModelConfig`'s own fields (`lgan_cli.schema`), the numeric ones
against the ranges below, expression names against the safe file-name alphabet
(`lgan_cli.names`), and the generators' size is counted on torch's "meta" device, which
allocates nothing. Settings without a range here (fields added later) are type-checked only.
"""

from __future__ import annotations

from lgan_cli.errors import ConfigError
from lgan_cli.models.blocks import check_size
from lgan_cli.models.config import ModelConfig
from lgan_cli.names import SAFE_NAME_RULE, is_safe_name, shown
from lgan_cli.schema import build, check_fields

RANGES: dict[str, tuple[float, float]] = {
    "intensity_levels": (0, 16),
    "generator_width": (1, 512),
    "discriminator_width": (1, 512),
    "max_width_multiplier": (1, 16),
    "pdm_components": (1, 136),  # at most one mode per coordinate of the 68 points
    "label_embedding": (1, 1024),
    "landmark_radius_at_256": (0.1, 64.0),
    "landmark_softness": (0.01, 16.0),
}
MAX_EXPRESSIONS = 64
MAX_CHANNELS = 2048  # the widest layer: generator_width x max_width_multiplier (the paper's: 512)
DISCRIMINATOR_LAYERS = (1, 6)  # each PatchGAN's intermediate layers (the paper's: 3 and 2)
MAX_DISCRIMINATORS = 4
MAX_GENERATOR_PARAMETERS = 200_000_000  # 800 MB of float32 weights; the paper's 256 px generators: 74 M


def check_model_json(data: object, where: str = "model") -> dict:
    """`data` if it describes a model within the limits above, else one line naming the setting."""
    check_fields(ModelConfig, data, where)
    for name, (low, high) in RANGES.items():
        if name in data and not low <= data[name] <= high:
            raise ConfigError(f"{where}.{name} must be between {low} and {high}, not {shown(data[name], 24)}")
    if "resolution" in data:
        try:
            check_size(data["resolution"])
        except ValueError as exc:
            raise ConfigError(f"{where}.resolution: {exc}") from None
    expressions = data.get("expressions", ())
    if len(expressions) > MAX_EXPRESSIONS:
        raise ConfigError(f"{where}.expressions lists {len(expressions)} names; at most {MAX_EXPRESSIONS}")
    for name in expressions:
        if not is_safe_name(name):
            raise ConfigError(f"{where}.expressions: {shown(name)} is not a usable expression name ({SAFE_NAME_RULE})")
    layers = data.get("discriminator_layers", (3,))
    low, high = DISCRIMINATOR_LAYERS
    if not 1 <= len(layers) <= MAX_DISCRIMINATORS or not all(low <= n <= high for n in layers):
        raise ConfigError(f"{where}.discriminator_layers must be 1 to {MAX_DISCRIMINATORS} numbers in {low}..{high}")
    width = data.get("generator_width", ModelConfig.generator_width) * data.get(
        "max_width_multiplier", ModelConfig.max_width_multiplier
    )
    if width > MAX_CHANNELS:
        raise ConfigError(f"{where}: the widest layer would have {width} channels; at most {MAX_CHANNELS}")
    return data


def model_config(data: object, where: str = "model") -> ModelConfig:
    """A ModelConfig from JSON, checked first; its generators within MAX_GENERATOR_PARAMETERS."""
    config = build(ModelConfig, check_model_json(data, where), where)
    count = generator_parameters(config)
    if count > MAX_GENERATOR_PARAMETERS:
        raise ConfigError(
            f"{where}: the generators would have {count:,} parameters; at most {MAX_GENERATOR_PARAMETERS:,}"
        )
    return config


def generator_parameters(config: ModelConfig) -> int:
    """Parameters and buffers of G_l + G_e, counted on the meta device (nothing allocated)."""
    import torch

    from lgan_cli.models.generators import LandmarkGAN

    with torch.device("meta"):
        model = LandmarkGAN(config)
    return sum(t.numel() for t in model.state_dict().values())
