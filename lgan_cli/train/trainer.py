"""The LandmarkGAN training loop (paper Sec. III-C).

Each step: stage I forward (G_l -> points -> landmark image), D_l step; stage II forward
(G_e), D_e step; then one generator step on L = L_1 + L_2 (Eq. 5 + Eq. 9). That last
backward runs end to end: stage II's losses reach G_l through the differentiable landmark
image. Discriminator losses are halved (`losses.discriminator_half_loss`, real and fake
passes apart).

Optionally (`landmark_warmup_steps`) G_l first trains alone on the landmark loss (Eq. 4):
a warm start for stage I, whose steps cost a tenth of a joint step. On small data this gets
G_l's points close to the targets before stage II starts to rely on them.

Determinism: data order comes from (seed, epoch) and augmentation from (seed, epoch,
position), and the torch RNG (dropout) is saved with each checkpoint, so on the CPU a
resumed run logs the same losses as an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.data import DistributedSampler

from lgan_cli.data.pairs import spread_evenly
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.errors import LganError
from lgan_cli.faces.decode import save_image
from lgan_cli.model_files import WEIGHTS_NAME
from lgan_cli.models.checkpoint import expected_tensors, read_weights
from lgan_cli.models.discriminators import Discriminators
from lgan_cli.models.editor import LandmarkGANEditor
from lgan_cli.models.flow import opened_mouth_mask
from lgan_cli.models.generators import LandmarkGAN, encode_labels
from lgan_cli.models.pdm import fit_pdm
from lgan_cli.pixels import to_pictures
from lgan_cli.train import losses
from lgan_cli.train.checkpoint import (
    CHECKPOINT_KEY,
    STATE_NAME,
    checkpoint_id,
    load_training_state,
    remove_stale_temp_files,
    save_training_checkpoint,
)
from lgan_cli.train.config import RunConfig
from lgan_cli.train.data import PairData, PointTargets, augmented_shapes
from lgan_cli.train.distributed import DistInfo, no_sync, unwrap, wrap
from lgan_cli.train.runs import StatsLog


@dataclass
class Progress:
    step: int
    epoch: int
    total_steps: int
    stats: dict
    phase: str = "train"  # or "warm-up" (G_l alone; step counts warm-up steps)


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        data: PairData,
        device: torch.device,
        validation: PreparedDataset | None = None,
        validation_split: str = "test",
        dist_info: DistInfo = DistInfo(),
        info: dict | None = None,
        geometry: PointTargets | None = None,
    ):
        self.config, self.run_dir, self.data, self.device = config, run_dir, data, device
        self.geometry = geometry
        self.validation, self.validation_split = validation, validation_split
        self.dist, self.info = dist_info, info or {}
        self.stats_log = StatsLog(run_dir / "stats.jsonl")
        torch.manual_seed(config.train.seed)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)

        self.model = LandmarkGAN(config.model)
        every_shape = data.all_points if geometry is None else torch.cat([data.all_points, geometry.target_points])
        shapes = augmented_shapes(every_shape, config.augment, config.model.resolution, seed=config.train.seed)
        self.model.g_l.pdm.set_model(fit_pdm(shapes.numpy(), config.model.pdm_components))
        if config.train.init_from:
            self._load_generators(Path(config.train.init_from))
        self.discriminators = Discriminators(config.model)
        self.model.to(device)
        self.discriminators.to(device)
        self.g_l, self.g_e = wrap(self.model.g_l, dist_info, device), wrap(self.model.g_e, dist_info, device)
        self.d_l = wrap(self.discriminators.d_l, dist_info, device)
        self.d_e = wrap(self.discriminators.d_e, dist_info, device)

        t = config.train
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_dl = torch.optim.Adam(self.discriminators.d_l.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_de = torch.optim.Adam(self.discriminators.d_e.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_warmup = torch.optim.Adam(self.model.g_l.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))
        self.use_amp = device.type == "cuda" and t.amp
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.identity_net = None
        if config.loss.identity:
            from lgan_cli.facenets.identity import load_identity_net

            self.identity_net = load_identity_net(device)
        self.judges = None
        self.step = self.epoch = self.position = self.warmup_step = 0
        self._stop_requested = False

    def _load_generators(self, folder: Path) -> None:
        """Start from another run's (or a model folder's) generators.

        G_l is taken when its weights fit this run's; G_e too when it is the same renderer with
        the same settings (a warp model may start from a U-Net model's trained stage I). A model
        that knows fewer labels (London's neutral and happy) passes on what it learned for them:
        `grow_labels` maps the label inputs by name, new labels start at zero, and G_l's head is
        re-expressed in this run's point distribution model (which spans the new expressions'
        shapes), so it predicts the same points. Otherwise the PDM is taken as it is.
        """
        from lgan_cli.models.checkpoint import load_inference

        source, _ = load_inference(folder)
        theirs, ours = source.state_dict(), self.model.state_dict()
        # the renderer's switches change no weights: a model may go on training with other ones
        same_stage_two = (
            replace(
                source.config,
                synthesis=self.config.model.synthesis,
                synthesis_region=self.config.model.synthesis_region,
                residual_keeps_motion=self.config.model.residual_keeps_motion,
                residual_region=self.config.model.residual_region,
                colour_smoothing=self.config.model.colour_smoothing,
                mouth_interior=self.config.model.mouth_interior,
                target_points=self.config.model.target_points,
                landmark_base=self.config.model.landmark_base,
                expressions=self.config.model.expressions,
                intensity_levels=self.config.model.intensity_levels,
            )
            == self.config.model
        )
        growing = (source.config.expressions, source.config.intensity_levels) != (
            self.config.model.expressions,
            self.config.model.intensity_levels,
        )
        taken = {
            k: v
            for k, v in theirs.items()
            if (k.startswith("g_l.") and not (growing and k.startswith("g_l.pdm.")))
            or (same_stage_two and k.startswith("g_e."))
        }
        if growing:  # new expressions bring new shapes: this run's PDM spans them, the head follows it
            taken = grow_labels(taken, ours, source.config, self.config.model)
            head = "g_l.head.4"
            taken[f"{head}.weight"], taken[f"{head}.bias"] = reexpress_head(
                taken[f"{head}.weight"], taken[f"{head}.bias"], source.g_l.pdm, self.model.g_l.pdm
            )
        if source.config.landmark_base != self.config.model.landmark_base:
            # the head's last layer predicted displacements of another base: it starts again at zero,
            # so G_l starts from its new base (the mean shape or the fitted points) exactly
            taken = {k: v for k, v in taken.items() if not k.startswith("g_l.head.4.")}
        mismatched = [k for k, v in taken.items() if k not in ours or ours[k].shape != v.shape]
        if mismatched:
            raise ValueError(
                f"init_from {folder}: its model settings differ from this run's ({', '.join(mismatched[:3])})"
            )
        self.model.load_state_dict({**ours, **taken})

    # ----- schedule -------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.data) / self.dist.world_size)
        return math.ceil(per_rank / self.config.train.batch_size)

    @property
    def total_steps(self) -> int:
        full = self.steps_per_epoch * self.config.train.epochs
        return min(full, self.config.train.max_steps) if self.config.train.max_steps else full

    def epoch_order(self, epoch: int) -> list[int]:
        sampler = DistributedSampler(
            range(len(self.data)),
            num_replicas=self.dist.world_size,
            rank=self.dist.rank,
            shuffle=True,
            seed=self.config.train.seed,
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    def learning_rate(self, epoch: int) -> float:
        """Constant, then (optionally) linear decay to zero over the last `lr_decay_epochs` epochs."""
        t = self.config.train
        if not t.lr_decay_epochs:
            return t.lr
        start = t.epochs - t.lr_decay_epochs
        return t.lr * (1.0 - max(0, epoch + 1 - start) / float(t.lr_decay_epochs + 1))

    # ----- one step -------------------------------------------------------------------
    def warmup_train_step(self, batch: dict) -> dict:
        """G_l alone: one step on the landmark loss (Eq. 4) of its points."""
        dev = self.device
        x, target_points = batch["source"].to(dev), batch["target_points"].to(dev)
        labels = encode_labels(self.config.model, batch["expressions"], batch["intensities"], device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=self.use_amp):
            points = self.g_l(x, labels, self._fitted(batch)).float()
        loss = losses.landmark_loss(points, target_points)
        self.opt_warmup.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        self.scaler_g.step(self.opt_warmup)
        self.scaler_g.update()
        return {"G_l_landmark": float(loss.detach())}

    def geometry_step(self, batch: dict) -> dict:
        """Stage I alone on target points without a target photo (Eq. 5: D_l and the landmark loss)."""
        dev = self.device
        x, target_points = batch["source"].to(dev), batch["target_points"].to(dev)
        labels = encode_labels(self.config.model, batch["expressions"], batch["intensities"], device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=self.use_amp):
            points = self.g_l(x, labels, self._fitted(batch)).float()
        fake_landmarks = self.model.landmark_image(x, points)
        with torch.no_grad():
            real_landmarks = self.model.landmark_image(x, target_points)
        d_l_stats = self._discriminator_step(self.d_l, self.opt_dl, real_landmarks, fake_landmarks.detach(), "D_l")
        self.scaler_d.update()
        self._set_discriminators_trainable(False)
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=self.use_amp):
            logits_l = [t.float() for t in unwrap(self.d_l)(fake_landmarks)]
        loss, stats = losses.stage1_loss(
            logits_l, points, target_points, self.config.loss.lambda1, self.config.loss.landmark
        )
        self.opt_warmup.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        self.scaler_g.step(self.opt_warmup)
        self.scaler_g.update()
        self._set_discriminators_trainable(True)
        return {f"geometry_{k}": float(v) for k, v in {**d_l_stats, **stats}.items()}

    def train_step(self, batch: dict) -> dict:
        cfg, dev = self.config, self.device
        x, y = batch["source"].to(dev), batch["target"].to(dev)
        target_points = batch["target_points"].to(dev)
        labels = encode_labels(cfg.model, batch["expressions"], batch["intensities"], device=dev)
        autocast = torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=self.use_amp)

        # stage I: G_l and D_l
        with autocast:
            points = self.g_l(x, labels, self._fitted(batch)).float()
        fake_landmarks = self.model.landmark_image(x, points)
        with torch.no_grad():
            real_landmarks = self.model.landmark_image(x, target_points)
        d_l_stats = self._discriminator_step(self.d_l, self.opt_dl, real_landmarks, fake_landmarks.detach(), "D_l")

        # stage II: G_e and D_e (conditioned on the input x)
        with autocast:
            rendering = self.g_e(x, fake_landmarks, labels, batch["source_points"].to(dev), points)
        fake = rendering["image"].float()
        d_e_stats = self._discriminator_step(
            self.d_e, self.opt_de, torch.cat([y, x], 1), torch.cat([fake.detach(), x], 1), "D_e"
        )
        self.scaler_d.update()

        # generators, end to end (the discriminators are read, not trained, here)
        self._set_discriminators_trainable(False)
        with autocast:
            logits_l = unwrap(self.d_l)(fake_landmarks)
            logits_e = unwrap(self.d_e)(torch.cat([fake, x], 1))
        logits_l, logits_e = [t.float() for t in logits_l], [t.float() for t in logits_e]
        loss1, stats1 = losses.stage1_loss(logits_l, points, target_points, cfg.loss.lambda1, cfg.loss.landmark)
        fake_ids = real_ids = None
        if self.identity_net is not None:
            from lgan_cli.facenets.identity import identity_chip_from_crop

            fake_ids = self.identity_net(identity_chip_from_crop(fake, target_points))
            with torch.no_grad():
                real_ids = self.identity_net(identity_chip_from_crop(y, target_points))
        loss2, stats2 = losses.stage2_loss(
            logits_e, fake, y, fake_ids, real_ids, cfg.loss.lambda2, cfg.loss.lambda3, cfg.loss.reconstruction
        )
        if "mask" in rendering:
            regularisers, stats_warp = losses.warp_regularisers(
                rendering, cfg.loss.flow_smoothness, cfg.loss.mask_sparsity, cfg.loss.mask_smoothness
            )
            loss2, stats2 = loss2 + regularisers, {**stats2, **stats_warp}
            if cfg.loss.painted_reconstruction:
                # where the model painted, and where the real target's mouth is open beyond what the warp
                # carries (G_l's points may miss it: the colours must still learn what a mouth shows there)
                source_points = batch["source_points"].to(dev)
                true_mask = opened_mouth_mask(source_points, target_points, rendering["flow"])
                painted = losses.painted_reconstruction(
                    torch.maximum(rendering["mask"], true_mask), rendering["colours"], y
                )
                loss2, stats2 = (
                    loss2 + cfg.loss.painted_reconstruction * painted,
                    {**stats2, "painted_l1": painted.detach()},
                )
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss1 + loss2).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self._set_discriminators_trainable(True)
        stats = {**d_l_stats, **d_e_stats, **stats1, **stats2, "G": (loss1 + loss2).detach()}
        return {k: float(v) for k, v in stats.items()}

    def _fitted(self, batch: dict) -> torch.Tensor | None:
        """The fitted 3D model's target points a G_l on the fitted base corrects (None otherwise)."""
        if self.config.model.landmark_base != "fitted":
            return None
        if "fitted_points" not in batch:
            raise LganError("this G_l corrects the fitted 3D model's points, and the batch has none")
        return batch["fitted_points"].to(self.device)

    def _discriminator_step(self, discriminator, optimizer, real: torch.Tensor, fake: torch.Tensor, name: str) -> dict:
        """Real and fake passes apart (as pix2pix: BatchNorm sees one kind at a time); one update.

        Under DDP the real pass accumulates locally and the fake pass's backward averages the sum.
        """
        autocast = torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp)
        optimizer.zero_grad(set_to_none=True)
        with no_sync(discriminator):
            with autocast:
                real_logits = [t.float() for t in discriminator(real)]
            self.scaler_d.scale(losses.discriminator_half_loss(real_logits, real=True)).backward()
        with autocast:
            fake_logits = [t.float() for t in discriminator(fake)]
        self.scaler_d.scale(losses.discriminator_half_loss(fake_logits, real=False)).backward()
        self.scaler_d.step(optimizer)
        return losses.discriminator_stats(real_logits, fake_logits, name)

    def _set_discriminators_trainable(self, flag: bool) -> None:
        for parameter in self.discriminators.parameters():
            parameter.requires_grad_(flag)

    # ----- the loop -------------------------------------------------------------------
    def fit(self, on_progress: Callable[[Progress], None] | None = None) -> str:
        """Train until the epochs (or max_steps) are done or Ctrl-C; returns 'finished' or 'interrupted'."""
        previous_handler = signal.getsignal(signal.SIGINT)
        if self.dist.is_main or not self.dist.enabled:
            signal.signal(signal.SIGINT, self._on_interrupt)
        try:
            return self._loop(on_progress)
        finally:
            signal.signal(signal.SIGINT, previous_handler)
            if self.judges is not None:  # release MediaPipe before interpreter shutdown
                self.judges.close()
                self.judges = None

    def _on_interrupt(self, *_):
        if self._stop_requested:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self._stop_requested = True

    def _loop(self, on_progress) -> str:
        t, batch_size = self.config.train, self.config.train.batch_size
        self.model.train()
        self.discriminators.train()
        if self.warmup_step < t.landmark_warmup_steps and self._warm_up(on_progress) == "interrupted":
            return "interrupted"
        while self.epoch < t.epochs and self.step < self.total_steps:
            for group in (
                *self.opt_g.param_groups,
                *self.opt_dl.param_groups,
                *self.opt_de.param_groups,
                *(self.opt_warmup.param_groups if self.geometry is not None else ()),
            ):
                group["lr"] = self.learning_rate(self.epoch)
            order = self.epoch_order(self.epoch)
            while self.position < len(order) and self.step < self.total_steps:
                indices = order[self.position : self.position + batch_size]
                generator = self._draw_generator(self.epoch * 10_007 + self.position)
                stats = self.train_step(self.data.batch(indices, self.config.augment, generator))
                if self.geometry is not None:  # stage I also learns the expressions no photo pair shows
                    draw = self.geometry.draw(t.landmark_warmup_batch_size, generator)
                    stats.update(self.geometry_step(self.geometry.batch(draw, self.config.augment, generator)))
                self.position += batch_size
                self.step += 1
                self._after_step(stats, on_progress)
                if self._stop_requested:
                    self.save()
                    return "interrupted"
            if self.position < len(order):  # stopped by max_steps inside the epoch: resume here
                break
            self.epoch += 1
            self.position = 0
            if t.validate_every and self.epoch % t.validate_every == 0:
                self.validate()
            if self.dist.is_main and t.sample_every:
                self.write_samples()
            self.save()
        self.save()
        return "finished"

    def _draw_generator(self, position: int) -> torch.Generator:
        """The random draws (augmentation, warm-up batches) of one step: fixed by seed, position and rank."""
        return torch.Generator().manual_seed((self.config.train.seed * 1_000_003 + position) * 64 + self.dist.rank)

    def _warm_up(self, on_progress) -> str:
        """Train G_l alone for the remaining warm-up steps (random batches, seeded per step)."""
        t = self.config.train
        while self.warmup_step < t.landmark_warmup_steps:
            generator = self._draw_generator(self.warmup_step)
            if self.geometry is None:
                source = self.data
                indices = torch.randint(len(source), (t.landmark_warmup_batch_size,), generator=generator).tolist()
            else:  # the geometry holds every expression
                source = self.geometry
                indices = source.draw(t.landmark_warmup_batch_size, generator)
            stats = self.warmup_train_step(source.batch(indices, self.config.augment, generator))
            self.warmup_step += 1
            if self.dist.is_main and (self.warmup_step % t.log_every == 0 or self.warmup_step == 1):
                self.stats_log.write(
                    {"step": 0, "warmup_step": self.warmup_step, "time": round(time.time(), 3), **stats}
                )
            if on_progress:
                on_progress(Progress(self.warmup_step, 0, t.landmark_warmup_steps, stats, phase="warm-up"))
            if self._stop_requested:
                self.save()
                return "interrupted"
        self.save()
        return "finished"

    def _after_step(self, stats: dict, on_progress) -> None:
        t = self.config.train
        if self.dist.is_main and (self.step % t.log_every == 0 or self.step == 1):
            self.stats_log.write({"step": self.step, "epoch": self.epoch, "time": round(time.time(), 3), **stats})
        if self.dist.is_main and t.sample_every and self.step % t.sample_every == 0:
            self.write_samples()
        if t.checkpoint_every and self.step % t.checkpoint_every == 0:
            self.save()
        if on_progress:
            on_progress(Progress(self.step, self.epoch, self.total_steps, stats))

    # ----- validation, samples, checkpoints ---------------------------------------------
    def editor(self) -> LandmarkGANEditor:
        return LandmarkGANEditor(self.model, name=self.run_dir.name)

    @torch.no_grad()
    def validate(self) -> dict | None:
        if self.validation is None or not self.dist.is_main:
            return None
        from lgan_cli.eval.runner import Judges, evaluate

        if self.judges is None:
            self.judges = Judges(self.device)
        self.model.eval()
        try:
            report = evaluate(
                self.editor(),
                self.validation,
                self.validation_split,
                device=self.device,
                baseline=False,
                limit=self.config.train.validation_pairs or None,
                pair_mode=self.config.data.pairs,
                judges=self.judges,
            )
        finally:
            self.model.train()
        summary = report.methods[self.editor().name].summary()
        self.stats_log.write({"step": self.step, "epoch": self.epoch, "validation": summary})
        return summary

    @torch.no_grad()
    def write_samples(self, count: int = 4) -> Path:
        """A grid, one row per pair: input | generated landmark image | output | target."""
        batch = self.data.batch(spread_evenly(list(range(len(self.data))), count))
        x = batch["source"].to(self.device)
        labels = encode_labels(self.config.model, batch["expressions"], batch["intensities"], device=self.device)
        self.model.eval()
        try:
            _, landmarks, output = self.model(x, labels, batch["source_points"].to(self.device), self._fitted(batch))
        finally:
            self.model.train()
        rows = [
            torch.cat([x[i], landmarks[i], output[i], batch["target"][i].to(self.device)], dim=2) for i in range(len(x))
        ]
        grid = to_pictures(torch.cat(rows, dim=1)[None])[0]
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        save_image(grid, path, make_parents=True)
        return path

    def save(self) -> None:
        """Weights + training state as one consistent pair (see `save_training_checkpoint`), rank 0 only."""
        if not self.dist.is_main:
            return
        save_training_checkpoint(
            self.model,
            self.run_dir,
            {
                "step": self.step,
                "epoch": self.epoch,
                "position": self.position,
                "warmup_step": self.warmup_step,
                "opt_warmup": self.opt_warmup.state_dict(),
                "discriminators": self.discriminators.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_dl": self.opt_dl.state_dict(),
                "opt_de": self.opt_de.state_dict(),
                "scaler_g": self.scaler_g.state_dict(),
                "scaler_d": self.scaler_d.state_dict(),
                "torch_rng": torch.get_rng_state(),
            },
            {**self.info, "step": self.step, "epoch": self.epoch},
        )

    def resume(self) -> str | None:
        """Continue from the run folder's last checkpoint; returns a note when the weights file
        was not the training state's partner (a save was killed between its two renames).

        The generators come from the training state's own copy; a state saved before it kept
        one must be paired with the weights file it was saved with (same checkpoint id, or
        neither has one). Anything that does not fit this run is a one-line LganError.
        """
        state_path, weights_path = self.run_dir / STATE_NAME, self.run_dir / WEIGHTS_NAME
        if self.dist.is_main:  # the one process that saves; the others may still be reading
            remove_stale_temp_files(self.run_dir)
        state = load_training_state(state_path)
        pair, published = state.get(CHECKPOINT_KEY), checkpoint_id(weights_path) if weights_path.is_file() else None
        note = None
        if isinstance(state.get("generators"), dict):
            generators = state["generators"]
            if published != pair:
                note = (
                    f"{weights_path.name} was not saved with {state_path.name} (a save was interrupted); "
                    f"resuming from the training state's step {state['step']}"
                )
        elif published != pair or not weights_path.is_file():
            raise LganError(
                f"cannot resume {self.run_dir}: {weights_path.name} and {state_path.name} are not from the same "
                "checkpoint "
                f"({published or 'no id'} vs {pair or 'no id'}); start a new run with --init-from {self.run_dir}"
            )
        else:
            generators = read_weights(weights_path, expected_tensors(self.config.model))
        try:
            self._load_state(generators, state)
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            reason = " ".join(str(exc).split())[:160]
            raise LganError(f"{state_path} does not fit this run's model settings ({reason})") from None
        self.stats_log.truncate_after(self.step, self.warmup_step)
        return note

    def _load_state(self, generators: dict, state: dict) -> None:
        self.model.load_state_dict(generators)
        self.discriminators.load_state_dict(state["discriminators"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_dl.load_state_dict(state["opt_dl"])
        self.opt_de.load_state_dict(state["opt_de"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        torch.set_rng_state(state["torch_rng"])
        if "opt_warmup" in state:  # runs saved before warm-ups existed have none
            self.opt_warmup.load_state_dict(state["opt_warmup"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.warmup_step = state.get("warmup_step", self.config.train.landmark_warmup_steps)


def grow_labels(taken: dict, ours: dict, theirs_config, our_config) -> dict:
    """Tensors reading the labels (G_l's label layer, G_e's first convolution) resized to this
    run's labels: image channels and the columns of labels both models know (by name) copied,
    the others zero, so a model with more labels starts out as the one it grows from."""
    old_names = [*theirs_config.expressions, *(f"level{i}" for i in range(1, theirs_config.intensity_levels + 1))]
    new_names = [*our_config.expressions, *(f"level{i}" for i in range(1, our_config.intensity_levels + 1))]
    grown = dict(taken)
    for key, tensor in taken.items():
        mine = ours.get(key)
        if mine is None or mine.shape == tensor.shape or tensor.dim() < 2 or mine.shape[0] != tensor.shape[0]:
            continue
        leading = tensor.shape[1] - len(old_names)
        if leading < 0 or mine.shape[1] - len(new_names) != leading or mine.shape[2:] != tensor.shape[2:]:
            continue
        resized = torch.zeros_like(mine)
        resized[:, :leading] = tensor[:, :leading]
        for column, name in enumerate(new_names):
            if name in old_names:
                resized[:, leading + column] = tensor[:, leading + old_names.index(name)]
        grown[key] = resized
    return grown


def reexpress_head(weight: torch.Tensor, bias: torch.Tensor, old_pdm, new_pdm) -> tuple[torch.Tensor, torch.Tensor]:
    """G_l's last layer rewritten for another point distribution model: the same points (up to
    what the new modes cannot express) from the same features."""
    old_modes, new_modes = old_pdm.modes.double(), new_pdm.modes.double()
    new_stds = new_pdm.stds.double().clamp_min(1e-8)
    mixing = (old_pdm.stds.double()[:, None] * (old_modes @ new_modes.T)) / new_stds[None, :]  # (K_old, K_new)
    offset = ((old_pdm.mean.double() - new_pdm.mean.double()) @ new_modes.T) / new_stds
    return (mixing.T @ weight.double()).float(), (bias.double() @ mixing + offset).float()
