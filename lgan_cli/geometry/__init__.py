"""Expression geometry from the ICT-FaceKit 3D face model (DESIGN.md, "Expression geometry").

Fit the model to a face's 68 points (identity, the face's own expression, weak-perspective
pose), then produce the 68 target points of any RaFD expression at levels 1..4, any mix of
FACS action units, or both, in the input's pixel frame.

Modules, one concern each:
    basis        the model cut down to its 68 landmark rows, cached per model and convention
    conventions  the detector's landmark convention vs the model's vertices (a calibrated offset)
    pose         rotation conventions and the scaled-orthographic camera
    fit          the fit (Gauss-Newton with bounded expression weights): FaceFit
    aus          AU specs ('12=0.8,6=0.5'), expression presets as AU weights, AU -> blendshapes
    transfer     target points: source points + the model's displacement

Typical use:
    from lgan_cli.geometry import fit_face, transfer, parse_au_spec
    fit = fit_face(face.points68)                       # detected points, any pixel frame
    happy2 = transfer(fit, "happy", 2)                  # (68, 2) target points
    custom = transfer(fit, aus=parse_au_spec("12=0.8,6=0.5"))
"""

from __future__ import annotations

from lgan_cli.geometry.aus import blendshape_weights_for, expression_au_weights, parse_au_spec
from lgan_cli.geometry.basis import LandmarkBasis, landmark_basis
from lgan_cli.geometry.fit import FaceFit, FitConfig, fit_face
from lgan_cli.geometry.pose import Pose
from lgan_cli.geometry.transfer import neutralise, target_blendshapes, transfer, transfer_blendshapes

__all__ = [
    "FaceFit",
    "FitConfig",
    "LandmarkBasis",
    "Pose",
    "blendshape_weights_for",
    "expression_au_weights",
    "fit_face",
    "landmark_basis",
    "neutralise",
    "parse_au_spec",
    "target_blendshapes",
    "transfer",
    "transfer_blendshapes",
]
