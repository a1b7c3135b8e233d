from salur_kit.runtime import serve

from salur_opportunities.bootstrap import SPEC

serve(SPEC)
