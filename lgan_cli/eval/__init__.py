"""Evaluation: image metrics (PSNR, SSIM, LPIPS, FID) and the evaluation runner."""
