"""Training LandmarkGAN: losses, discriminators, the loop, checkpoints and runs."""
