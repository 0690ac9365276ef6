"""lgan: facial-expression editing with LandmarkGAN (Tang & Sebe)."""

__version__ = "0.1.0"
