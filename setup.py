"""Installs the three top-level folders as subpackages of the `cwsim` namespace package.

`cwsim/` holds only `__main__.py` (`python -m cwsim`): no `__init__.py`, so `cwsim` stays a namespace.
"""

from setuptools import find_namespace_packages, setup

PARTS = ("simulator", "integration", "scenarios")

setup(
    packages=[
        "cwsim",
        *(
            f"cwsim.{package}"
            for package in find_namespace_packages(
                include=[f"{part}*" for part in PARTS],
                exclude=["*__pycache__*"],
            )
        ),
    ],
)
