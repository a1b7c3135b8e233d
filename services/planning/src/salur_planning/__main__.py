from salur_kit.runtime import serve

from salur_planning.bootstrap import SPEC

serve(SPEC)
