"""Face detection, 68-point landmarks, alignment and landmark images."""
