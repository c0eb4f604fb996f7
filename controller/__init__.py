"""zeroserve.controller package."""
