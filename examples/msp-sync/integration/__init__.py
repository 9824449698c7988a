"""This example project's own integration package (a name cwsim must not shadow)."""
