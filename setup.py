"""Installs the three top-level folders as subpackages of the `cwsim` namespace package."""

from setuptools import find_namespace_packages, setup

PARTS = ("simulator", "integration", "scenarios")

setup(
    packages=[
        f"cwsim.{package}"
        for package in find_namespace_packages(
            include=[f"{part}*" for part in PARTS],
            exclude=["*__pycache__*"],
        )
    ],
)
