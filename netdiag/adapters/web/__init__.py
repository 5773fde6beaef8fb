"""The lecture view (``--web``): a small HTTP server streaming a live ladder to browsers."""
