"""Training settings: dataclasses with the paper's numbers as defaults, saved as JSON per run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lgan_cli.data.pairs import PAIR_MODES
from lgan_cli.models.config import ModelConfig
from lgan_cli.schema import build, check_fields

RECONSTRUCTION_KINDS = ("l1", "l2", "l12")


@dataclass(frozen=True)
class LossConfig:
    lambda1: float = 2.0  # landmark loss (Eq. 5)
    lambda2: float = 100.0  # reconstruction loss (Eq. 9)
    lambda3: float = 0.1  # identity loss (Eq. 9)
    reconstruction: str = "l12"  # Eq. 7; l1 / l2 for the Table I ablation
    identity: bool = True
    landmark: bool = True
    # the warp renderer's regularisers (lgan_cli.train.losses.warp_regularisers), added to Eq. 9
    # against lambda2 = 100 on the L1,2 loss, a mask weight of 5 pays off where synthesis removes more than
    # ~6 grey levels of error; at 2 (and 0.5 for its smoothness) the London model painted speckles near the
    # face window's edge within 1,400 steps (README, "the bundled default model")
    flow_smoothness: float = 1.0
    mask_sparsity: float = 5.0
    mask_smoothness: float = 5.0
    # the synthesised pixels' own L1 (`losses.painted_reconstruction`): where the mask is small (an
    # opened mouth is ~0.5 % of a crop) the image-wide L1,2 barely reaches the colours that fill it
    painted_reconstruction: float = 0.0

    def __post_init__(self) -> None:
        if self.reconstruction not in RECONSTRUCTION_KINDS:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTION_KINDS}, not {self.reconstruction!r}")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation for small datasets; the same draw is applied to a pair's source and target."""

    flip: bool = False  # horizontal flip with iBUG point reordering
    colour: float = 0.0  # brightness / contrast / saturation jitter amplitude (0.1 = +-10 %)
    shift: float = 0.0  # translation jitter, fraction of the crop size
    scale: float = 0.0  # zoom jitter amplitude (0.05 = +-5 %)
    rotate: float = 0.0  # rotation jitter amplitude in degrees


AUGMENT_PRESET = AugmentConfig(flip=True, colour=0.1, shift=0.03, scale=0.05, rotate=3.0)
"""What `lgan train --augment` switches on: flips, +-10 % colour, small shifts, zooms and turns."""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "london"
    data_root: str = ""
    prepared: str = ""
    seed: int = 0  # the identity split's seed
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    test_ids: tuple[str, ...] | None = None
    source_expressions: tuple[str, ...] | None = None
    target_expressions: tuple[str, ...] | None = None
    pairs: str = "all"  # "all" ordered pairs or only those through "neutral" (lgan_cli.data.pairs.PAIR_MODES)
    register_pairs: bool = True  # move each target crop onto its source's frame on stable points (data/registration.py)
    identity_pairs: bool = False  # also (photo, photo) pairs with the photo's own label: "no change asked, none made"
    # all expressions on real photos (DESIGN.md, "Expression geometry from the 3D face model"):
    synthetic: str = ""  # a prepared `lgan synth` folder whose neutral -> expression pairs join the image pairs
    geometry_targets: bool = False  # stage I also learns every expression x level 1..4 on the real training crops
    # share of stage I's point-target draws taken from the photo pairs' own (registered) target points
    # instead of the 3D model's: what a G_l on the fitted base (landmark_base) learns its correction from
    photo_point_share: float = 0.0
    photo_point_expressions: tuple[str, ...] | None = None  # only these targets' photo points join (None: all)

    def __post_init__(self) -> None:
        if self.pairs not in PAIR_MODES:
            raise ValueError(f"pairs must be one of {PAIR_MODES}, not {self.pairs!r}")
        if not (
            0 <= self.test_fraction < 1 and 0 <= self.val_fraction < 1 and self.test_fraction + self.val_fraction < 1
        ):
            raise ValueError("test_fraction and val_fraction must be shares in [0, 1) that leave people to train on")
        if not 0 <= self.photo_point_share < 1:
            raise ValueError(f"photo_point_share must be a share in [0, 1), not {self.photo_point_share}")
        if self.photo_point_share and not self.geometry_targets:
            raise ValueError("photo_point_share mixes the photo pairs' points into geometry_targets: set it too")
        if self.photo_point_expressions is not None and not self.photo_point_share:
            raise ValueError("photo_point_expressions picks the photo points that photo_point_share mixes in: set it")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_epochs: int = 0  # linear decay to zero over the last N epochs (0: constant)
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision on CUDA (ignored on CPU)
    log_every: int = 10  # steps between loss lines in stats.jsonl
    sample_every: int = 200  # steps between sample grids
    checkpoint_every: int = 1000  # steps between checkpoints (also at every epoch end)
    validate_every: int = 1  # epochs between validations (0: never)
    validation_pairs: int = 64  # pairs scored per validation (0: all)
    max_steps: int = 0  # stop after this many steps (0: run all epochs); for smoke tests and budgets
    landmark_warmup_steps: int = 0  # G_l alone on Eq. 4 before the joint training (0: joint from step 0, as the paper)
    landmark_warmup_batch_size: int = 16  # a warm-up step is cheap (G_l only), so it takes bigger batches
    init_from: str = ""  # start from this run's (or model folder's) generators; D and optimisers start fresh

    def __post_init__(self) -> None:
        """Counts a recipe could get wrong that would only fail deep in the loop (a division by zero)."""
        for name in ("batch_size", "log_every", "landmark_warmup_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        # 0 epochs after a warm-up: G_l alone (a stage-I refinement that leaves stage II as it was)
        if self.epochs < (0 if self.landmark_warmup_steps else 1):
            raise ValueError(f"epochs must be at least 1 (0 only with landmark_warmup_steps), not {self.epochs}")
        for name in (
            "lr_decay_epochs",
            "sample_every",
            "checkpoint_every",
            "validate_every",
            "validation_pairs",
            "max_steps",
            "landmark_warmup_steps",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if not self.lr > 0 or not 0 <= self.beta1 < 1 or not 0 <= self.beta2 < 1:
            raise ValueError("lr must be positive and beta1, beta2 in [0, 1)")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run."""

    name: str = "run"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict, where: str = "config") -> RunConfig:
        """Built from a recipe or a run's settings; anything that does not fit is a ConfigError naming `where`."""
        from lgan_cli.models.schema import model_config

        check_fields(cls, document, where)
        parts = {"loss": LossConfig, "augment": AugmentConfig, "data": DataConfig, "train": TrainConfig}
        values = {}
        for key, value in document.items():
            if key == "model":
                values[key] = model_config(value, f"{where}: model")
            elif key in parts:
                values[key] = build(parts[key], value, f"{where}: {key}")
            else:
                values[key] = value
        return cls(**values)
