from salur_audit.bootstrap import serve

serve()
