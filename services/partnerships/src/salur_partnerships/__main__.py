from salur_kit.runtime import serve

from salur_partnerships.bootstrap import SPEC

serve(SPEC)
