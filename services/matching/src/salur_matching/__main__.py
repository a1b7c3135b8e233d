from salur_kit.runtime import serve

from salur_matching.bootstrap import SPEC

serve(SPEC)
