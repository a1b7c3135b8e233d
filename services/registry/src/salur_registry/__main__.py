from salur_kit.runtime import serve

from salur_registry.bootstrap import SPEC

serve(SPEC)
