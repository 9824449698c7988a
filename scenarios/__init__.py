"""The composition root: scenarios, their runner, and the `cwsim` command."""
