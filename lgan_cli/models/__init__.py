"""Expression editors: the LandmarkGAN generators and the baselines they are compared with."""
