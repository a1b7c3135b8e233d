"""`salur demo`: a realistic channelling story played over the public HTTP APIs.

The kit knows no service's code: the demo sends plain JSON to the routes each service
documents and reads plain JSON back.
"""

from salur_kit.demo.command import register, run_demo

__all__ = ["register", "run_demo"]
