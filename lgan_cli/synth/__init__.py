"""Synthetic expression data from the ICT-FaceKit morphable model (`lgan synth`).

Random people (identity weights ~ N(0, 1)) with painted skin, lips, brows, hair and eyes, in
the 8 RaFD expressions written as FACS action-unit recipes at 4 intensities, rendered on the
CPU by a numpy rasterizer into crops aligned exactly as `lgan prepare` aligns photos, with the
68 landmarks projected from the model's landmark vertices.

Modules, one concern each:
    facemodel  load the model (packed .npz or a FaceXModel/ folder, lazily); build meshes
    recipes    expression -> action units -> ICT blendshape weights, intensity levels
    texture    per-identity UV albedo, specular and wrinkle maps; which materials are drawn
    raster     z-buffer rasterizer with perspective-correct barycentrics; shadow-map visibility
    render     camera, pose, lighting, backdrop, shading, landmark projection and visibility
    dataset    a whole set in the prepared format (index.json + crops/)

Typical use:
    from lgan_cli.synth.facemodel import load_face_model
    from lgan_cli.synth.recipes import blendshape_weights
    from lgan_cli.synth.render import FaceRenderer, sample_identity_scene
    renderer = FaceRenderer(load_face_model())
    scene = sample_identity_scene(renderer, numpy.random.default_rng(0))
    out = renderer.render(scene, blendshape_weights("happy", 4), 128)   # out.image, out.points68
"""
