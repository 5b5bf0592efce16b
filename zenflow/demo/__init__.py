"""``zenflow demo``: a local control plane, the controller and an example flow shown live.

``runner`` orchestrates (start, follow, clean up on any exit); ``live`` draws the progress.
"""

from zenflow.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
