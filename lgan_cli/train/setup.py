"""Assembling a training run: settings from a recipe and the command's overrides (or a run
to resume), prepared data, the run folder and its trainer. `lgan train` is flags, progress and
messages around these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from lgan_cli.data.adapters import DATASET_LICENCES
from lgan_cli.data.geometry_targets import GEOMETRY_LEVELS
from lgan_cli.data.prepare import PrepareConfig, prepare_if_missing, split_settings
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.errors import DatasetError, LganError
from lgan_cli.fileio import read_json_object
from lgan_cli.model_files import CONFIG_NAME, WEIGHTS_NAME
from lgan_cli.models.checkpoint import write_config
from lgan_cli.models.config import with_legacy_renderer
from lgan_cli.train.checkpoint import STATE_NAME
from lgan_cli.train.config import AUGMENT_PRESET, AugmentConfig, RunConfig
from lgan_cli.train.data import PairData, PointTargets
from lgan_cli.train.distributed import DistInfo, barrier, shared_run_dir

MAX_CONFIG_BYTES = 1 << 20  # a recipe or a run's config.json is a few kB


def load_config_file(path: Path) -> dict:
    """The run settings of a recipe or of a run's config.json (whose "run" part holds them)."""
    document = read_json_object(path, "a training config", MAX_CONFIG_BYTES)
    return document.get("run", document)


def run_config_from_file(path: Path) -> RunConfig:
    """A RunConfig from a recipe or a run's config.json; a bad one is one line naming the file."""
    return RunConfig.from_json(load_config_file(path), where=str(path))


def new_run_config(recipe: Path | None, overrides: dict) -> RunConfig:
    """A new run's settings: the recipe's (or the defaults), then `overrides` (see `with_overrides`).

    A bad value in the recipe or an override is a one-line error, not a traceback.
    """
    try:
        config = run_config_from_file(recipe) if recipe else RunConfig()
        return with_overrides(config, overrides)
    except ValueError as exc:
        raise LganError(str(exc)) from None


def with_overrides(config: RunConfig, overrides: dict) -> RunConfig:
    """Layer the settings given on the command line over a recipe.

    `overrides` maps `lgan train`'s option names (dataset, data_root, prepared, test_ids, pairs,
    resolution, width, disc_width, labels, renderer, recon, epochs, batch_size, max_steps,
    lr_decay_epochs, seed, sample_every, checkpoint_every, landmark_warmup_steps, init_from,
    device, augment, name) to values, None (or absent) for "not given"; the switches
    (no_synthesis, identity_pairs, no_soft_crops, single_discriminator, no_identity_loss,
    no_landmark_loss) apply when true. `augment` True is `AUGMENT_PRESET`, False none.
    """
    from lgan_cli.data.splits import parse_id_list

    model, loss, data, train_cfg, augment_cfg = config.model, config.loss, config.data, config.train, config.augment
    given = lambda key: overrides.get(key) is not None  # noqa: E731
    if given("dataset"):
        data = replace(data, dataset=overrides["dataset"])
    if given("data_root"):
        data = replace(data, data_root=str(overrides["data_root"]))
    if given("test_ids"):
        data = replace(data, test_ids=tuple(parse_id_list(overrides["test_ids"])))
    if given("pairs"):
        data = replace(data, pairs=overrides["pairs"])
    if given("resolution"):
        model = replace(model, resolution=overrides["resolution"])
    if given("width"):
        model = replace(model, generator_width=overrides["width"])
    if given("disc_width"):
        model = replace(model, discriminator_width=overrides["disc_width"])
    if given("labels"):
        model = replace(model, labels=overrides["labels"])
    if given("renderer"):
        model = replace(model, renderer=overrides["renderer"])
    if overrides.get("no_synthesis"):
        model = replace(model, synthesis=False)
    if overrides.get("identity_pairs"):
        data = replace(data, identity_pairs=True)
    if overrides.get("no_soft_crops"):
        model = replace(model, soft_crops=False)
    if overrides.get("single_discriminator"):
        model = replace(model, discriminator_layers=model.discriminator_layers[:1])
    if given("recon"):
        loss = replace(loss, reconstruction=overrides["recon"])
    if overrides.get("no_identity_loss"):
        loss = replace(loss, identity=False)
    if overrides.get("no_landmark_loss"):
        loss = replace(loss, landmark=False)
    for key in (
        "epochs",
        "batch_size",
        "max_steps",
        "lr_decay_epochs",
        "seed",
        "sample_every",
        "checkpoint_every",
        "landmark_warmup_steps",
    ):
        if given(key):
            train_cfg = replace(train_cfg, **{key: overrides[key]})
    if given("init_from"):
        if not (Path(overrides["init_from"]) / WEIGHTS_NAME).is_file():
            raise ValueError(f"--init-from {overrides['init_from']}: no {WEIGHTS_NAME} there")
        train_cfg = replace(train_cfg, init_from=str(overrides["init_from"]))
    if given("device"):
        train_cfg = replace(train_cfg, device=overrides["device"])
    if overrides.get("augment") is True:
        augment_cfg = AUGMENT_PRESET
    elif overrides.get("augment") is False:
        augment_cfg = AugmentConfig()
    if not data.prepared or given("prepared") or given("resolution") or given("dataset"):
        prepared = overrides.get("prepared") or Path("prepared") / f"{data.dataset}-{model.resolution}"
        data = replace(data, prepared=str(prepared))
    name = overrides.get("name") or (config.name if config.name != "run" else data.dataset)
    return replace(config, name=name, model=model, loss=loss, data=data, train=train_cfg, augment=augment_cfg)


def resumed_run_config(run_dir: Path, epochs: int | None = None, lr_decay_epochs: int | None = None) -> RunConfig:
    """The settings of a run to resume, lengthened when asked (see `extended`)."""
    check_resumable(run_dir)
    return extended(read_run_config(run_dir), epochs, lr_decay_epochs)


def extended(config: RunConfig, epochs: int | None, lr_decay_epochs: int | None) -> RunConfig:
    """A resumed run keeps its recipe; only --epochs / --lr-decay-epochs may lengthen it
    (e.g. to train a finished run further, with a new decay at the new end)."""
    if epochs is None and lr_decay_epochs is None:
        return config
    train_cfg = replace(
        config.train,
        epochs=config.train.epochs if epochs is None else epochs,
        lr_decay_epochs=config.train.lr_decay_epochs if lr_decay_epochs is None else lr_decay_epochs,
    )
    if train_cfg.lr_decay_epochs > train_cfg.epochs:
        raise LganError(
            f"--lr-decay-epochs {train_cfg.lr_decay_epochs} is more than the run's {train_cfg.epochs} epochs"
        )
    return replace(config, train=train_cfg)


def prepared_for_run(config: RunConfig, info: DistInfo = DistInfo()) -> PreparedDataset:
    """The run's prepared data: rank 0 prepares it (if needed) while the others wait, then all load it."""
    if info.is_main:
        dataset = ensure_prepared(config)
    barrier(info)
    if not info.is_main:
        dataset = ensure_prepared(config)
    return dataset


def ensure_prepared(config: RunConfig) -> PreparedDataset:
    """Load the prepared data, preparing it first (with the run's identity split) if missing."""
    data = config.data
    folder = Path(data.prepared)
    split = split_settings(asdict(data))
    prepare_if_missing(
        folder,
        PrepareConfig(dataset=data.dataset, data_root=data.data_root, resolution=config.model.resolution, **split),
    )
    try:
        dataset = PreparedDataset.load(folder, resolution=config.model.resolution)
    except DatasetError as exc:
        raise LganError(f"{exc}; or choose --resolution") from None
    return dataset


def with_dataset_labels(config: RunConfig, dataset: PreparedDataset) -> RunConfig:
    """Fill in the expressions (canonical order) and intensity levels the training data uses
    (geometry targets and synthetic pairs bring all eight expressions at levels 1..4)."""
    names = {item.expression for item in dataset.items}
    levels = max((item.intensity or 0 for item in dataset.items), default=0)
    if config.data.geometry_targets or config.data.synthetic:
        names, levels = names | set(RAFD_EXPRESSIONS), max(levels, max(GEOMETRY_LEVELS))
    ordered = tuple(n for n in RAFD_EXPRESSIONS if n in names) + tuple(sorted(names - set(RAFD_EXPRESSIONS)))
    return replace(config, model=replace(config.model, expressions=ordered, intensity_levels=levels))


def training_data(config: RunConfig, dataset: PreparedDataset) -> tuple[PairData, PointTargets | None]:
    """The image pairs (real, plus synthetic ones if asked) and stage I's geometry targets."""
    data = config.data
    pairs = PairData(
        dataset,
        "train",
        data.source_expressions,
        data.target_expressions,
        data.pairs,
        register=data.register_pairs,
        identity_pairs=data.identity_pairs,
    )
    if data.synthetic:
        synthetic = PreparedDataset.load(data.synthetic, resolution=config.model.resolution)
        pairs.join(PairData(synthetic, "train", source_expressions=("neutral",), register=data.register_pairs))
    if config.model.landmark_base == "fitted":
        pairs.attach_fitted_requests()
    geometry = None
    if data.geometry_targets:
        from lgan_cli.data.geometry_targets import geometry_targets, photo_point_targets

        photo_targets = []
        if data.photo_point_share:
            photo_targets = photo_point_targets(
                (s, t)
                for s, t in dataset.pairs("train", data.pairs)
                if (data.source_expressions is None or s.expression in data.source_expressions)
                and (data.target_expressions is None or t.expression in data.target_expressions)
                and (data.photo_point_expressions is None or t.expression in data.photo_point_expressions)
            )
        geometry = PointTargets(
            geometry_targets(dataset.split("train"), config.model.expressions),
            dataset.resolution,
            photo_targets,
            data.photo_point_share,
        )
    return pairs, geometry


@dataclass
class Run:
    """A training run ready to go: its folder, its trainer, and whether it resumed (with a note)."""

    run_dir: Path
    trainer: object  # lgan_cli.train.trainer.Trainer
    resumed: bool
    note: str | None


def open_run(
    config: RunConfig, run_dir: Path | None, dataset: PreparedDataset, device: torch.device, info: DistInfo, out: Path
) -> Run:
    """The trainer of a new run (in a new numbered folder under `out`) or of `run_dir` resumed.

    A refused start (e.g. --init-from a model with other settings) is one line and leaves no
    empty run folder behind. config.json holds the resolved settings from the start.
    """
    from lgan_cli.train.trainer import Trainer

    pairs, geometry = training_data(config, dataset)
    new_run = run_dir is None
    if new_run:
        run_dir = shared_run_dir(out, config.name, info)
    split = validation_split(dataset)
    try:
        trainer = Trainer(
            config,
            run_dir,
            pairs,
            device,
            geometry=geometry,
            validation=dataset if split else None,
            validation_split=split or "test",
            dist_info=info,
            info=run_info(config),
        )
    except (ValueError, LganError) as exc:
        if new_run and info.is_main:  # no empty run folder left behind by a refused start
            run_dir.rmdir()
        raise LganError(str(exc)) from None
    resumed = (run_dir / STATE_NAME).exists()
    note = trainer.resume() if resumed else None
    if info.is_main:  # the resolved settings, from the start (and a resumed run's new length, if extended)
        write_config(run_dir, config.model, run_info(config))
    return Run(run_dir, trainer, resumed, note)


def validation_split(dataset: PreparedDataset) -> str | None:
    splits = {item.split for item in dataset.items}
    return "val" if "val" in splits else "test" if "test" in splits else None


ICT_GEOMETRY_LICENCE = (
    "MIT: target landmarks of every expression computed from the ICT Face Model Light "
    "(ICT-FaceKit, USC Institute for Creative Technologies, MIT licence) fitted to the real photos"
)


def run_info(config: RunConfig) -> dict:
    """What goes into config.json beside the model settings: the whole run and the data's terms
    (every source's, when synthetic pairs or 3D-model targets joined the photos)."""
    terms = [DATASET_LICENCES.get(config.data.dataset, "unknown")]
    if config.data.synthetic:
        terms.append(DATASET_LICENCES["ict-synth"])
    if config.data.geometry_targets:
        terms.append(ICT_GEOMETRY_LICENCE)
    return {
        "run": config.to_json(),
        "training_data": {
            "dataset": config.data.dataset,
            "licence": "; ".join(terms),
            "test_ids": list(config.data.test_ids) if config.data.test_ids else None,
        },
    }


def check_resumable(run_dir: Path) -> None:
    """--resume needs the run's training state: without it, a fresh start would overwrite the
    trained weights in the folder, so it is refused (with the way to build on them instead)."""
    if not Path(run_dir).is_dir():
        raise LganError(f"--resume {run_dir}: no such run folder")
    if not (Path(run_dir) / STATE_NAME).is_file():
        raise LganError(
            f"cannot resume {run_dir}: it has no {STATE_NAME} (only a model can be resumed from its training state); "
            f"to train further from its weights, start a new run with --init-from {run_dir}"
        )


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise LganError(f"{run_dir} is not a run folder (no {CONFIG_NAME})")
    document = load_config_file(path)
    if isinstance(document.get("model"), dict):
        document = {**document, "model": with_legacy_renderer(document["model"])}
    return RunConfig.from_json(document, where=str(path))


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    from lgan_cli.device import resolve_device

    device = resolve_device(choice)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device
