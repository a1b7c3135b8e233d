"""The opportunities service as the bench runs it: the production spec without its Kafka
consumers and its scheduled close, so a bench run never moves the real consumer group's
offsets nor closes the loaded opportunities (`python -m benchmarks.opportunities_service`)."""

import dataclasses

from salur_kit.runtime import serve
from salur_opportunities.bootstrap import SPEC

if __name__ == "__main__":
    serve(dataclasses.replace(SPEC, consumers=(), loops=()))
