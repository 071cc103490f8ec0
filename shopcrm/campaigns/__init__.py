"""Campaigns and email: targeting stored results, sandboxed templates, the outbox, the sender.

Flow: a campaign targets stored results of a run → ``service.enqueue`` renders one outbox row
per (campaign, customer, key) → ``sender.send_due`` delivers due rows through Flask-Mail (or
into ``.eml`` files when no SMTP server is configured).

Modules: ``service`` (the API the panel and the CLI call, and a campaign's life), ``targets``
(who), ``audiences`` (ready-made targets), ``content`` (the wording a marketer edits without
template code), ``templating`` and ``template_limits`` (the sandbox, the shop's look, the
budgets), ``recommend`` (which products), ``outbox`` (rendering and writing rows), ``preview``
(one customer's email, untracked), ``triggers`` (automatic campaigns), ``results`` (counts and
rates).
"""
