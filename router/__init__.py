"""zeroserve.router package."""
