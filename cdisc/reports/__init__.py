"""Reports of the unblinded area for the unblinded statistician and the DMC (never for blinded readers)."""
